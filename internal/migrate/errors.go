package migrate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidName is returned by Create for a name with no letter or digit.
var ErrInvalidName = errors.New("the migration name must contain letters or digits")

// MigrationError is a migration file that failed to apply or roll back. When the database
// reported the failure, the SQLSTATE, message, detail, hint and context are the server's,
// and Line and Column locate the error inside File.
type MigrationError struct {
	Version   int64
	File      string
	Direction string // "up" or "down"

	// Line and Column are 1-based and point at the error inside File. Column is 0 when the
	// server gave no position, and Line is then the failing statement's first line. Both are
	// 0 when the failing statement could not be found in the file.
	Line          int
	Column        int
	StatementLine int

	SQLState string
	Message  string
	Detail   string
	Hint     string
	Where    string

	// Transactional is true when the file ran in one transaction, which the failure rolled
	// back: nothing of the file remains. A NO TRANSACTION file keeps the statements that ran
	// before the failing one, and its version is not recorded.
	Transactional bool

	// LockWait is the lock the failing statement was seen waiting for, when it was.
	LockWait *LockWait

	// Advice is secretsdb's own hint, for failures whose server message does not say what to
	// do (lock and statement timeouts).
	Advice string

	Err error
}

func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migration %s (%s) failed", e.File, e.Direction)
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, " at line %d, column %d", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, " in the statement at line %d", e.Line)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s (SQLSTATE %s)", e.Message, e.SQLState)
	} else {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if w := e.LockWait; w != nil {
		fmt.Fprintf(&b, " while waiting for %s", w)
	}
	return b.String()
}

func (e *MigrationError) Unwrap() error { return e.Err }

// LockWait is a lock a migration statement waited for, as pg_locks showed it.
type LockWait struct {
	// Mode is the lock mode requested, such as AccessExclusiveLock.
	Mode string `json:"mode"`
	// LockType is pg_locks.locktype: relation, transactionid, ...
	LockType string `json:"lock_type"`
	// Relation is the schema-qualified table or index, empty for other lock types.
	Relation string `json:"relation,omitempty"`
	// Blockers are the sessions holding or queued ahead for a conflicting lock.
	Blockers []Blocker `json:"blockers"`
}

// String names the mode waited for, then each blocker with the modes it holds on the same
// object: the waited-for mode is rarely the one held (an ALTER TABLE waits for
// AccessExclusiveLock behind a reader's AccessShareLock).
func (w *LockWait) String() string {
	var b strings.Builder
	b.WriteString(w.Mode)
	if w.Relation != "" {
		fmt.Fprintf(&b, " on %s", w.Relation)
	} else {
		fmt.Fprintf(&b, " (%s lock)", w.LockType)
	}
	for i, bl := range w.Blockers {
		if i == 0 {
			b.WriteString(", blocked by ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "pid %d", bl.PID)
		var what []string
		if len(bl.HeldModes) > 0 {
			what = append(what, "holding "+strings.Join(bl.HeldModes, " and "))
		}
		if bl.QueuedMode != "" {
			what = append(what, "queued ahead for "+bl.QueuedMode)
		}
		if len(what) > 0 {
			b.WriteString(" " + strings.Join(what, ", "))
		}
		if attrs := bl.attrs(); attrs != "" {
			b.WriteString(" (" + attrs + ")")
		}
	}
	return b.String()
}

// Blocker is a session in the way of a migration's lock. Its query text is left out: it
// may hold data.
type Blocker struct {
	PID             int32         `json:"pid"`
	User            string        `json:"user"`
	ApplicationName string        `json:"application_name"`
	State           string        `json:"state"`
	TransactionAge  time.Duration `json:"-"`
	// HeldModes are the modes the session holds on the locked object, such as
	// AccessShareLock; empty when it holds none there and is only queued ahead.
	HeldModes []string `json:"held_modes"`
	// QueuedMode is the mode the session itself waits for on the object, ahead of the
	// migration in the queue; empty when it is not waiting.
	QueuedMode string `json:"queued_mode"`
}

func (b Blocker) String() string {
	s := fmt.Sprintf("pid %d", b.PID)
	if attrs := b.attrs(); attrs != "" {
		s += " (" + attrs + ")"
	}
	return s
}

// attrs describes the session: user, application, state and transaction age.
func (b Blocker) attrs() string {
	var attrs []string
	if b.User != "" {
		attrs = append(attrs, "user "+b.User)
	}
	if b.ApplicationName != "" {
		attrs = append(attrs, fmt.Sprintf("application %q", b.ApplicationName))
	}
	if b.State != "" {
		attrs = append(attrs, b.State)
	}
	if b.TransactionAge > 0 {
		age := b.TransactionAge.Round(time.Millisecond)
		attrs = append(attrs, "transaction open "+age.String())
	}
	return strings.Join(attrs, ", ")
}

// Mismatch is an applied migration whose file no longer matches what was applied.
type Mismatch struct {
	Version int64  `json:"version"`
	File    string `json:"file"`
	// Problem is "edited" (the file's SHA-256 differs from the recorded one) or "missing"
	// (the version is applied but no file carries it).
	Problem  string `json:"problem"`
	Recorded string `json:"recorded_sha256,omitempty"`
	Current  string `json:"file_sha256,omitempty"`
	// NewerRelease marks a missing version above every file's: the database was migrated
	// by a newer release than the one running, rather than a file being deleted.
	NewerRelease bool `json:"newer_release"`
}

func (m Mismatch) String() string {
	if m.NewerRelease {
		return fmt.Sprintf("%s (version %d) applied by a newer release", m.File, m.Version)
	}
	return fmt.Sprintf("%s (version %d) %s", m.File, m.Version, m.Problem)
}

// ChecksumMismatchError is returned by every command that changes the schema when an
// applied migration's file was edited or removed since it was applied, or when the
// database has versions above every file's, unless Options.AllowChecksumMismatch is set.
type ChecksumMismatchError struct {
	Mismatches []Mismatch
	// Latest is the highest version among the files: the version the schema must go back
	// to before this release can migrate a database a newer release migrated.
	Latest int64
}

func (e *ChecksumMismatchError) Error() string {
	var newer []int64
	var others []string
	for _, m := range e.Mismatches {
		if m.NewerRelease {
			newer = append(newer, m.Version)
		} else {
			others = append(others, m.String())
		}
	}
	var parts []string
	if len(newer) > 0 {
		noun := "version"
		if len(newer) > 1 {
			noun = "versions"
		}
		parts = append(parts, fmt.Sprintf("the database has %s %s which this binary does not "+
			"know; it was migrated by a newer release (this binary's migrations end at "+
			"version %d)", noun, joinVersions(newer), e.Latest))
	}
	if len(others) > 0 {
		noun := "migration differs from its file"
		if len(others) > 1 {
			noun = "migrations differ from their files"
		}
		parts = append(parts, fmt.Sprintf("%d applied %s: %s", len(others), noun,
			strings.Join(others, "; ")))
	}
	return strings.Join(parts, "; ")
}

// UnknownVersionError is returned by UpTo and DownTo for a target version that no
// migration file carries: a mistyped target would otherwise apply, or roll back, every
// migration and exit as a success.
type UnknownVersionError struct {
	Version int64
	// Known are the versions of the migration files, ascending.
	Known []int64
	// ZeroAllowed is true for DownTo, whose target 0 rolls back every migration.
	ZeroAllowed bool
}

func (e *UnknownVersionError) Error() string {
	known := "none"
	if len(e.Known) > 0 {
		known = versionRanges(e.Known)
	}
	msg := fmt.Sprintf("no migration file has version %d; the known versions are %s",
		e.Version, known)
	if e.ZeroAllowed {
		msg += ", and 0 to roll back every migration"
	}
	return msg
}

// InterruptedError is returned when the context of a command that changes the schema
// ended (SIGTERM, Ctrl-C) while it ran. It says what became of the migration that was
// running and of the migration lock, as checked on the database afterwards.
type InterruptedError struct {
	// Running is the migration that was running, nil when none was (the command was
	// waiting for the lock, or reading the state).
	Running   *FileRef
	Direction string
	// Transactional is true when the running file runs in one transaction.
	Transactional bool
	// Recorded is whether the running file's version is recorded as applied afterwards;
	// Checked is false when that could not be read.
	Recorded bool
	Checked  bool
	// LockReleased is true when no session of this command holds the migration lock any
	// more. The server releases it when it ends the session, within seconds.
	LockReleased bool
	Err          error
}

func (e *InterruptedError) Error() string {
	lockGoes := "; the lock goes when the server ends the session, within seconds"
	if e.Running == nil {
		if e.LockReleased {
			return "interrupted before any migration ran"
		}
		return "interrupted before any migration ran" + lockGoes
	}
	var b strings.Builder
	b.WriteString("interrupted: ")
	unchanged := e.Recorded == (e.Direction == "down")
	switch {
	case !e.Checked:
		fmt.Fprintf(&b, "the state of the running migration, %s, could not be read; "+
			"see migrate status", e.Running.File)
	case !e.Transactional && unchanged:
		done, state := "applied", "was not recorded"
		if e.Direction == "down" {
			done, state = "rolled back", "is still recorded"
		}
		fmt.Fprintf(&b, "the running migration, %s, runs without a transaction (NO "+
			"TRANSACTION) and may be partly %s; its version %s", e.Running.File, done, state)
	case unchanged:
		fmt.Fprintf(&b, "the running migration, %s, was rolled back", e.Running.File)
	default:
		fmt.Fprintf(&b, "the running migration, %s, had completed", e.Running.File)
	}
	if e.LockReleased {
		b.WriteString("; the lock was released")
	} else {
		b.WriteString(lockGoes)
	}
	return b.String()
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// joinVersions renders versions as "7", "7, 8".
func joinVersions(vs []int64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(parts, ", ")
}

// versionRanges renders ascending versions with runs collapsed: "1-6, 8, 10-12".
func versionRanges(vs []int64) string {
	var parts []string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.FormatInt(vs[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", vs[i], vs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// OutOfOrderError is returned by Up and its variants when a pending migration has a lower
// version than the highest applied one, unless Options.AllowMissing is set.
type OutOfOrderError struct {
	Pending    []FileRef
	MaxApplied int64
}

func (e *OutOfOrderError) Error() string {
	parts := make([]string, len(e.Pending))
	for i, f := range e.Pending {
		parts[i] = fmt.Sprintf("version %d (%s)", f.Version, f.File)
	}
	noun, verb := "migration", "is"
	if len(parts) > 1 {
		noun, verb = "migrations", "are"
	}
	return fmt.Sprintf("pending %s %s %s lower than the highest applied version %d",
		noun, strings.Join(parts, ", "), verb, e.MaxApplied)
}

// LockTimeoutError is returned when another runner held the migration lock for longer than
// Options.LockTimeout.
type LockTimeoutError struct {
	Waited time.Duration
	// Holder is the session holding the lock when the wait ended, nil if it was gone.
	Holder *Blocker
	Err    error
}

func (e *LockTimeoutError) Error() string {
	msg := fmt.Sprintf("gave up waiting for the migration lock after %s",
		e.Waited.Round(time.Second))
	if e.Holder != nil {
		msg += "; it is held by " + e.Holder.String()
	}
	return msg
}

func (e *LockTimeoutError) Unwrap() error { return e.Err }
