package migrate

import (
	"errors"
	"fmt"
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
			b.WriteString(" held by ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(bl.String())
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
}

func (b Blocker) String() string {
	s := fmt.Sprintf("pid %d", b.PID)
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
		attrs = append(attrs, "transaction open "+b.TransactionAge.Round(time.Millisecond).String())
	}
	if len(attrs) > 0 {
		s += " (" + strings.Join(attrs, ", ") + ")"
	}
	return s
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
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s (version %d) %s", m.File, m.Version, m.Problem)
}

// ChecksumMismatchError is returned by every command that changes the schema when an
// applied migration's file was edited or removed since it was applied, unless
// Options.AllowChecksumMismatch is set.
type ChecksumMismatchError struct {
	Mismatches []Mismatch
}

func (e *ChecksumMismatchError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = m.String()
	}
	noun := "migration differs from its file"
	if len(parts) > 1 {
		noun = "migrations differ from their files"
	}
	return fmt.Sprintf("%d applied %s: %s", len(parts), noun, strings.Join(parts, "; "))
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
