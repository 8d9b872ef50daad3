package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secretsdb/secretsdb/internal/migrate"
)

// The JSON documents of `secretsdb migrate --json`. Every document has the envelope's
// fields; "error" is null on success. Field names are part of the command's interface.

type document interface{ env() *envelope }

type envelope struct {
	Command  string     `json:"command"`
	OK       bool       `json:"ok"`
	ExitCode int        `json:"exit_code"`
	Error    *errorJSON `json:"error"`
}

func (e *envelope) env() *envelope { return e }

func (e *envelope) set(code int, err error) {
	e.OK, e.ExitCode = err == nil, code
	if err != nil {
		e.Error = errorDoc(err)
	}
}

type errorJSON struct {
	// Kind is one of usage, migration_failed, interrupted, checksum_mismatch,
	// out_of_order, lock_timeout, error.
	Kind        string             `json:"kind"`
	Message     string             `json:"message"`
	Migration   *migrationJSON     `json:"migration,omitempty"`
	Interrupted *interruptedJSON   `json:"interrupted,omitempty"`
	Mismatches  []migrate.Mismatch `json:"mismatches,omitempty"`
	OutOfOrder  []migrate.FileRef  `json:"out_of_order,omitempty"`
	LockHolder  *blockerJSON       `json:"lock_holder,omitempty"`
	// Hint says what to do next, naming this command's flags.
	Hint string `json:"hint,omitempty"`
}

type migrationJSON struct {
	Version       int64         `json:"version"`
	File          string        `json:"file"`
	Direction     string        `json:"direction"`
	Line          int           `json:"line"`
	Column        int           `json:"column"`
	StatementLine int           `json:"statement_line"`
	SQLState      string        `json:"sqlstate"`
	Message       string        `json:"message"`
	Detail        string        `json:"detail"`
	Hint          string        `json:"hint"`
	Where         string        `json:"where"`
	Transactional bool          `json:"transactional"`
	LockWait      *lockWaitJSON `json:"lock_wait"`
	Advice        string        `json:"advice"`
}

// interruptedJSON is what a command interrupted by a signal left behind. Version and File
// are 0 and "" when no migration was running.
type interruptedJSON struct {
	Version       int64  `json:"version"`
	File          string `json:"file"`
	Direction     string `json:"direction"`
	Transactional bool   `json:"transactional"`
	// Recorded is whether the running file's version is recorded as applied afterwards.
	Recorded     bool `json:"recorded"`
	LockReleased bool `json:"lock_released"`
}

type lockWaitJSON struct {
	Mode     string        `json:"mode"`
	LockType string        `json:"lock_type"`
	Relation string        `json:"relation"`
	Blockers []blockerJSON `json:"blockers"`
}

type blockerJSON struct {
	PID              int32   `json:"pid"`
	User             string  `json:"user"`
	ApplicationName  string  `json:"application_name"`
	State            string  `json:"state"`
	TransactionAgeMS float64 `json:"transaction_age_ms"`
	// HeldModes are the modes the session holds on the locked object; QueuedMode the mode
	// it waits for there itself, ahead of the migration, "" when none.
	HeldModes  []string `json:"held_modes"`
	QueuedMode string   `json:"queued_mode"`
}

func blockerDoc(b migrate.Blocker) blockerJSON {
	return blockerJSON{
		PID: b.PID, User: b.User, ApplicationName: b.ApplicationName, State: b.State,
		TransactionAgeMS: ms(b.TransactionAge),
		HeldModes:        append([]string{}, b.HeldModes...), QueuedMode: b.QueuedMode,
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func errorDoc(err error) *errorJSON {
	doc := &errorJSON{Kind: "error", Message: err.Error()}
	var (
		ue usageError
		ie *migrate.InterruptedError
		me *migrate.MigrationError
		cm *migrate.ChecksumMismatchError
		oo *migrate.OutOfOrderError
		lt *migrate.LockTimeoutError
	)
	switch {
	case errors.As(err, &ue):
		doc.Kind = "usage"
	case errors.As(err, &ie):
		doc.Kind = "interrupted"
		doc.Interrupted = &interruptedJSON{
			Direction: ie.Direction, Transactional: ie.Transactional, Recorded: ie.Recorded,
			LockReleased: ie.LockReleased,
		}
		if ie.Running != nil {
			doc.Interrupted.Version, doc.Interrupted.File = ie.Running.Version, ie.Running.File
		}
	case errors.As(err, &me):
		doc.Kind = "migration_failed"
		doc.Migration = &migrationJSON{
			Version: me.Version, File: me.File, Direction: me.Direction,
			Line: me.Line, Column: me.Column, StatementLine: me.StatementLine,
			SQLState: me.SQLState, Message: me.Message, Detail: me.Detail, Hint: me.Hint,
			Where: me.Where, Transactional: me.Transactional, Advice: me.Advice,
		}
		if w := me.LockWait; w != nil {
			lw := &lockWaitJSON{Mode: w.Mode, LockType: w.LockType, Relation: w.Relation,
				Blockers: []blockerJSON{}}
			for _, b := range w.Blockers {
				lw.Blockers = append(lw.Blockers, blockerDoc(b))
			}
			doc.Migration.LockWait = lw
		}
	case errors.As(err, &cm):
		doc.Kind, doc.Mismatches = "checksum_mismatch", cm.Mismatches
		doc.Hint = mismatchHint(cm)
	case errors.As(err, &oo):
		doc.Kind, doc.OutOfOrder = "out_of_order", oo.Pending
		doc.Hint = outOfOrderHint(oo)
	case errors.As(err, &lt):
		doc.Kind = "lock_timeout"
		if lt.Holder != nil {
			b := blockerDoc(*lt.Holder)
			doc.LockHolder = &b
		}
		doc.Hint = lockTimeoutHint
	}
	return doc
}

const lockTimeoutHint = "another runner is migrating this database: wait for it, or " +
	"raise --lock-timeout; a runner that died releases the lock when its connection closes"

// mismatchHint says how to recover from each kind of mismatch in e. Each kind needs its
// own remedy: deleting a checksum row accepts an edited file, but a missing file is
// reported from goose's version row, so both rows must go.
func mismatchHint(e *migrate.ChecksumMismatchError) string {
	var edited, missing, newer []int64
	for _, m := range e.Mismatches {
		switch {
		case m.NewerRelease:
			newer = append(newer, m.Version)
		case m.Problem == "missing":
			missing = append(missing, m.Version)
		default:
			edited = append(edited, m.Version)
		}
	}
	var hints []string
	if len(newer) > 0 {
		hints = append(hints, fmt.Sprintf("Deploy the release that migrated the database, "+
			"or a later one. To go back to this release, first roll the schema back with "+
			"the newer release's binary (secretsdb migrate down-to %d), or run this "+
			"release's serve without --migrate if the newer schema still suits it.",
			e.Latest))
	}
	if len(missing) > 0 {
		hints = append(hints, fmt.Sprintf("Restore the missing file from the release "+
			"that applied it. If the migration was removed on purpose (what it did stays "+
			"in the schema), make the database forget it: %s", forgetSQL(missing)))
	}
	if len(edited) > 0 {
		hints = append(hints, fmt.Sprintf("An applied migration must not change: undo "+
			"the edit, or add a new migration for the change. To accept a deliberate "+
			"edit, run %s and the next migrate up records the file as it is.",
			strings.TrimSuffix(deleteWhere(migrate.ChecksumTable, "version", edited), ";")))
	}
	hints = append(hints, "Otherwise up, down and redo with --allow-checksum-mismatch go "+
		"on regardless, for that run only.")
	// Like the other hints, it starts in lower case after "hint: ".
	joined := strings.Join(hints, " ")
	return strings.ToLower(joined[:1]) + joined[1:]
}

// forgetSQL deletes the bookkeeping of applied versions whose files are gone: goose's
// version rows and their checksums, in one transaction.
func forgetSQL(versions []int64) string {
	return "BEGIN; " + deleteWhere(migrate.VersionTable, "version_id", versions) + " " +
		deleteWhere(migrate.ChecksumTable, "version", versions) + " COMMIT;"
}

func deleteWhere(table, column string, versions []int64) string {
	parts := make([]string, len(versions))
	for i, v := range versions {
		parts[i] = strconv.FormatInt(v, 10)
	}
	if len(parts) == 1 {
		return fmt.Sprintf("DELETE FROM %s WHERE %s = %s;", table, column, parts[0])
	}
	return fmt.Sprintf("DELETE FROM %s WHERE %s IN (%s);", table, column,
		strings.Join(parts, ", "))
}

func outOfOrderHint(e *migrate.OutOfOrderError) string {
	return fmt.Sprintf("renumber the file above version %d, or apply it out of order with "+
		"--allow-missing", e.MaxApplied)
}

func writeJSON(w io.Writer, doc any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

type appliedJSON struct {
	Version    int64   `json:"version"`
	File       string  `json:"file"`
	Direction  string  `json:"direction"`
	DurationMS float64 `json:"duration_ms"`
	Empty      bool    `json:"empty"`
}

// changeDoc reports up, up-by-one, up-to, down, down-to and redo.
type changeDoc struct {
	envelope
	Database      string `json:"database"`
	VersionBefore int64  `json:"version_before"`
	VersionAfter  int64  `json:"version_after"`
	// NothingToDo is true when the command succeeded without applying or rolling back
	// anything, as the second of two concurrent deploys does.
	NothingToDo        bool               `json:"nothing_to_do"`
	Applied            []appliedJSON      `json:"applied"`
	ChecksumsRecorded  []migrate.FileRef  `json:"checksums_recorded"`
	ChecksumMismatches []migrate.Mismatch `json:"checksum_mismatches"`
}

// newChangeDoc returns the document of a command that changes the schema, its lists empty
// rather than null, so a failure has the same shape as a success.
func newChangeDoc(command string) *changeDoc {
	return &changeDoc{
		envelope:           envelope{Command: command},
		Applied:            []appliedJSON{},
		ChecksumsRecorded:  []migrate.FileRef{},
		ChecksumMismatches: []migrate.Mismatch{},
	}
}

func (d *changeDoc) fill(rep *migrate.Report, err error) {
	if rep == nil {
		return
	}
	d.VersionBefore, d.VersionAfter = rep.VersionBefore, rep.VersionAfter
	for _, a := range rep.Applied {
		d.Applied = append(d.Applied, appliedJSON{
			Version: a.Version, File: a.File, Direction: a.Direction,
			DurationMS: ms(a.Duration), Empty: a.Empty,
		})
	}
	d.ChecksumsRecorded = append(d.ChecksumsRecorded, rep.ChecksumsRecorded...)
	d.ChecksumMismatches = append(d.ChecksumMismatches, rep.ChecksumMismatches...)
	d.NothingToDo = err == nil && len(rep.Applied) == 0
}

type statusJSON struct {
	Version    int64      `json:"version"`
	File       string     `json:"file"`
	State      string     `json:"state"`
	AppliedAt  *time.Time `json:"applied_at"`
	OutOfOrder bool       `json:"out_of_order"`
	Checksum   string     `json:"checksum"`
}

type statusDoc struct {
	envelope
	Database   string       `json:"database"`
	Version    int64        `json:"version"`
	Latest     int64        `json:"latest"`
	Pending    int          `json:"pending"`
	Migrations []statusJSON `json:"migrations"`
}

func (d *statusDoc) fill(st *migrate.Status) {
	d.Version, d.Latest = st.Version, st.Latest
	d.Migrations = []statusJSON{}
	for _, s := range st.Migrations {
		row := statusJSON{
			Version: s.Version, File: s.File, State: s.State, OutOfOrder: s.OutOfOrder,
			Checksum: s.Checksum,
		}
		if !s.AppliedAt.IsZero() {
			at := s.AppliedAt
			row.AppliedAt = &at
		}
		if s.State == migrate.StatePending {
			d.Pending++
		}
		d.Migrations = append(d.Migrations, row)
	}
}

func newStatusDoc() *statusDoc {
	return &statusDoc{envelope: envelope{Command: "status"}, Migrations: []statusJSON{}}
}

type versionDoc struct {
	envelope
	Database string `json:"database"`
	Version  int64  `json:"version"`
	Latest   int64  `json:"latest"`
	Pending  int    `json:"pending"`
}

func newVersionDoc() *versionDoc { return &versionDoc{envelope: envelope{Command: "version"}} }

type verifyDoc struct {
	envelope
	Database   string             `json:"database"`
	Checked    int                `json:"checked"`
	Mismatches []migrate.Mismatch `json:"mismatches"`
	Unrecorded []migrate.FileRef  `json:"unrecorded"`
}

func (d *verifyDoc) fill(v *migrate.Verification) {
	d.Checked = v.Checked
	d.Mismatches = append([]migrate.Mismatch{}, v.Mismatches...)
	d.Unrecorded = append([]migrate.FileRef{}, v.Unrecorded...)
}

func newVerifyDoc() *verifyDoc {
	return &verifyDoc{
		envelope:   envelope{Command: "verify"},
		Mismatches: []migrate.Mismatch{},
		Unrecorded: []migrate.FileRef{},
	}
}

type createDoc struct {
	envelope
	File    string `json:"file"`
	Version int64  `json:"version"`
}

func newCreateDoc() *createDoc { return &createDoc{envelope: envelope{Command: "create"}} }

type lintDoc struct {
	envelope
	Files    int               `json:"files"`
	Problems []migrate.Problem `json:"problems"`
}

func newLintDoc() *lintDoc {
	return &lintDoc{envelope: envelope{Command: "lint"}, Problems: []migrate.Problem{}}
}

// newDoc returns the empty document of the named migrate command, for failures reported
// before the command itself runs (flag and usage errors); "migrate" and unknown names get
// the envelope alone.
func newDoc(command string) document {
	switch command {
	case "up", "up-by-one", "up-to", "down", "down-to", "redo":
		return newChangeDoc(command)
	case "status":
		return newStatusDoc()
	case "version":
		return newVersionDoc()
	case "verify":
		return newVerifyDoc()
	case "create":
		return newCreateDoc()
	case "lint":
		return newLintDoc()
	}
	return &envelope{Command: command}
}

// printChange writes the human report of a command that changes the schema.
func printChange(w io.Writer, name string, rep *migrate.Report, err error) {
	if rep == nil {
		return
	}
	if n := len(rep.ChecksumsRecorded); n > 0 {
		noun := "checksums"
		if n == 1 {
			noun = "checksum"
		}
		fmt.Fprintf(w, "recorded the %s of %s applied before checksums were kept:\n",
			noun, plural(n, "migration"))
		for _, f := range rep.ChecksumsRecorded {
			fmt.Fprintf(w, "  %s\n", f.File)
		}
	}
	if len(rep.ChecksumMismatches) > 0 {
		fmt.Fprintln(w, "going on, as --allow-checksum-mismatch says, although applied "+
			"migrations differ from their files:")
		for _, m := range rep.ChecksumMismatches {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
	for _, a := range rep.Applied {
		fmt.Fprintf(w, "OK    %-4s %s (%s)\n",
			a.Direction, a.File, a.Duration.Round(time.Millisecond))
	}

	var (
		ie *migrate.InterruptedError
		me *migrate.MigrationError
		cm *migrate.ChecksumMismatchError
		oo *migrate.OutOfOrderError
		lt *migrate.LockTimeoutError
	)
	switch {
	case errors.As(err, &ie):
		fmt.Fprintln(w, ie)
	case errors.As(err, &me):
		printFailure(w, me)
	case errors.As(err, &cm):
		fmt.Fprintf(w, "refusing to run: %v\nhint: %s\n", cm, mismatchHint(cm))
	case errors.As(err, &oo):
		fmt.Fprintf(w, "refusing to run: %v\nhint: %s\n", oo, outOfOrderHint(oo))
	case errors.As(err, &lt):
		fmt.Fprintf(w, "%v\nhint: %s\n", lt, lockTimeoutHint)
	case err == nil && len(rep.Applied) == 0:
		switch {
		case strings.HasPrefix(name, "up") && rep.VersionAfter != rep.VersionBefore:
			fmt.Fprintf(w, "nothing left to do: another runner took the database from version "+
				"%d to %d meanwhile\n", rep.VersionBefore, rep.VersionAfter)
		case strings.HasPrefix(name, "up"):
			fmt.Fprintf(w, "nothing to do: no pending migration, the database is at version %d\n",
				rep.VersionAfter)
		default:
			fmt.Fprintf(w, "nothing to roll back: the database is at version %d\n",
				rep.VersionAfter)
		}
		return
	}
	if rep.VersionAfter != rep.VersionBefore {
		fmt.Fprintf(w, "database at version %d (was %d)\n", rep.VersionAfter, rep.VersionBefore)
	} else {
		fmt.Fprintf(w, "database at version %d\n", rep.VersionAfter)
	}
}

func printFailure(w io.Writer, me *migrate.MigrationError) {
	fmt.Fprintf(w, "FAILED %-4s %s\n", me.Direction, me.File)
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, strings.ReplaceAll(v, "\n", "\n  \t"))
		}
	}
	switch {
	case me.Column > 0:
		field("at", fmt.Sprintf("%s:%d:%d (the statement starts on line %d)",
			me.File, me.Line, me.Column, me.StatementLine))
	case me.Line > 0:
		field("at", fmt.Sprintf("%s:%d (the failing statement's first line)", me.File, me.Line))
	}
	if me.Message != "" {
		field("error", me.Message)
		field("sqlstate", me.SQLState)
	} else {
		field("error", me.Err.Error())
	}
	field("detail", me.Detail)
	field("hint", me.Hint)
	field("context", me.Where)
	if me.LockWait != nil {
		field("waiting for", me.LockWait.String())
	}
	field("advice", me.Advice)
	if me.Transactional {
		field("state", "the file ran in one transaction, rolled back: nothing of it remains")
	}
	tw.Flush()
}

func printStatus(w io.Writer, desc string, st *migrate.Status) {
	fmt.Fprintf(w, "database: %s\n", desc)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT (UTC)\tCHECKSUM\tFILE")
	pending, outOfOrder := 0, 0
	for _, s := range st.Migrations {
		state, at, sum := s.State, "-", s.Checksum
		if s.OutOfOrder {
			state = "pending, out of order"
			outOfOrder++
		}
		if s.State == migrate.StatePending {
			pending++
		}
		if !s.AppliedAt.IsZero() {
			at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
		}
		if sum == "" {
			sum = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Version, state, at, sum, s.File)
	}
	tw.Flush()
	fmt.Fprintf(w, "version %d; latest file %d; %d pending", st.Version, st.Latest, pending)
	if outOfOrder > 0 {
		fmt.Fprintf(w, ", %d of them out of order (migrate up needs --allow-missing)", outOfOrder)
	}
	fmt.Fprintln(w)
}

// printVerify writes verify's report; latest is the binary's highest file version.
func printVerify(w io.Writer, v *migrate.Verification, latest int64) {
	for _, m := range v.Mismatches {
		switch {
		case m.Problem == "edited":
			fmt.Fprintf(w, "EDITED   %s (version %d): applied with sha256 %s, "+
				"the file now has %s\n", m.File, m.Version, m.Recorded, m.Current)
		case m.NewerRelease:
			fmt.Fprintf(w, "UNKNOWN  %s (version %d): applied by a newer release; this "+
				"binary's migrations end at version %d\n", m.File, m.Version, latest)
		default:
			fmt.Fprintf(w, "MISSING  %s (version %d): applied, but no migration file carries it\n",
				m.File, m.Version)
		}
	}
	if len(v.Unrecorded) > 0 {
		names := make([]string, len(v.Unrecorded))
		for i, f := range v.Unrecorded {
			names[i] = f.File
		}
		them := "them"
		if len(names) == 1 {
			them = "it"
		}
		fmt.Fprintf(w, "no checksum recorded yet for %s; the next migrate up records %s\n",
			strings.Join(names, ", "), them)
	}
	switch {
	case v.Checked == 0:
		fmt.Fprintln(w, "no migration is applied yet: nothing to verify")
	case len(v.Mismatches) == 0 && v.Checked == 1:
		fmt.Fprintln(w, "verified 1 applied migration: it matches its file")
	case len(v.Mismatches) == 0:
		fmt.Fprintf(w, "verified %d applied migrations: none differs from its file\n",
			v.Checked)
	default:
		fmt.Fprintf(w, "%d of %s do not match their files\n",
			len(v.Mismatches), plural(v.Checked, "applied migration"))
	}
	if len(v.Mismatches) > 0 {
		cm := &migrate.ChecksumMismatchError{Mismatches: v.Mismatches, Latest: latest}
		fmt.Fprintf(w, "hint: %s\n", mismatchHint(cm))
	}
}

func printLint(w io.Writer, files int, problems []migrate.Problem) {
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	fmt.Fprintf(w, "checked %s: %s\n", plural(files, "migration file"),
		plural(len(problems), "problem"))
}

// plural renders "1 file", "2 files", "no files".
func plural(n int, noun string) string {
	switch n {
	case 0:
		return "no " + noun + "s"
	case 1:
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
