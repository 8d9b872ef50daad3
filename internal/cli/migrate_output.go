package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// Kind is one of usage, migration_failed, checksum_mismatch, out_of_order,
	// lock_timeout, error.
	Kind       string             `json:"kind"`
	Message    string             `json:"message"`
	Migration  *migrationJSON     `json:"migration,omitempty"`
	Mismatches []migrate.Mismatch `json:"mismatches,omitempty"`
	OutOfOrder []migrate.FileRef  `json:"out_of_order,omitempty"`
	LockHolder *blockerJSON       `json:"lock_holder,omitempty"`
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
}

func blockerDoc(b migrate.Blocker) blockerJSON {
	return blockerJSON{
		PID: b.PID, User: b.User, ApplicationName: b.ApplicationName, State: b.State,
		TransactionAgeMS: ms(b.TransactionAge),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func errorDoc(err error) *errorJSON {
	doc := &errorJSON{Kind: "error", Message: err.Error()}
	var (
		ue usageError
		me *migrate.MigrationError
		cm *migrate.ChecksumMismatchError
		oo *migrate.OutOfOrderError
		lt *migrate.LockTimeoutError
	)
	switch {
	case errors.As(err, &ue):
		doc.Kind = "usage"
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
		doc.Hint = mismatchHint
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

const (
	mismatchHint = "an applied migration must not change: undo the edit, or add a new " +
		"migration for the change. To accept a deliberate edit, delete the version's row " +
		"from " + migrate.ChecksumTable + " so the next migrate up records the file again; " +
		"--allow-checksum-mismatch runs regardless"
	lockTimeoutHint = "another runner is migrating this database: wait for it, or raise " +
		"--lock-timeout; a runner that died releases the lock when its connection closes"
)

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

func (d *changeDoc) fill(_ string, _ *migrate.Migrator, rep *migrate.Report, err error) {
	d.Applied = []appliedJSON{}
	d.ChecksumsRecorded = []migrate.FileRef{}
	d.ChecksumMismatches = []migrate.Mismatch{}
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

type versionDoc struct {
	envelope
	Database string `json:"database"`
	Version  int64  `json:"version"`
	Latest   int64  `json:"latest"`
	Pending  int    `json:"pending"`
}

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

type createDoc struct {
	envelope
	File    string `json:"file"`
	Version int64  `json:"version"`
}

type lintDoc struct {
	envelope
	Files    int               `json:"files"`
	Problems []migrate.Problem `json:"problems"`
}

// printChange writes the human report of a command that changes the schema.
func printChange(w io.Writer, name string, rep *migrate.Report, err error) {
	if rep == nil {
		return
	}
	if n := len(rep.ChecksumsRecorded); n > 0 {
		fmt.Fprintf(w, "recorded the checksums of %d migrations applied before checksums "+
			"were kept:\n", n)
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
		me *migrate.MigrationError
		cm *migrate.ChecksumMismatchError
		oo *migrate.OutOfOrderError
		lt *migrate.LockTimeoutError
	)
	switch {
	case errors.As(err, &me):
		printFailure(w, me)
	case errors.As(err, &cm):
		fmt.Fprintln(w, "refusing to run: applied migrations differ from their files:")
		for _, m := range cm.Mismatches {
			fmt.Fprintf(w, "  %s\n", m)
		}
		fmt.Fprintf(w, "hint: %s\n", mismatchHint)
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

func printVerify(w io.Writer, v *migrate.Verification) {
	for _, m := range v.Mismatches {
		switch m.Problem {
		case "edited":
			fmt.Fprintf(w, "EDITED   %s (version %d): applied with sha256 %s, "+
				"the file now has %s\n", m.File, m.Version, m.Recorded, m.Current)
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
		fmt.Fprintf(w, "no checksum recorded yet for %s; the next migrate up records them\n",
			strings.Join(names, ", "))
	}
	if len(v.Mismatches) == 0 {
		fmt.Fprintf(w, "verified %d applied migrations: none differs from its file\n", v.Checked)
	} else {
		fmt.Fprintf(w, "%d of %d applied migrations differ from their files\n",
			len(v.Mismatches), v.Checked)
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
