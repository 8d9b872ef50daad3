package secrets

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// The errors callers branch on. Every error the Service returns wraps at most one of them;
// anything else is a bug or an unexpected database state.
var (
	// ErrInvalidInput: a field broke a documented rule. The error is an *InputError that
	// names the field.
	ErrInvalidInput = errors.New("invalid input")

	// ErrEmailInUse: the session's email belongs to another user and linking was not
	// allowed (SQLSTATE SD002).
	ErrEmailInUse = errors.New("email already belongs to another user")

	// ErrSecretNotFound: no such secret, or it is not the session user's (SD003). The two
	// are one error so that ids cannot be probed.
	ErrSecretNotFound = errors.New("secret not found")

	// ErrSecretTriggered: the secret has fired and takes no more check-ins (SD004).
	ErrSecretTriggered = errors.New("secret has been triggered")

	// ErrRejected: a rule added to the database outside secretsdb (a DBA's trigger or
	// constraint) refused the write, or made it touch the append-only audit trail (SD005).
	// The error is a *DatabaseError with its SQLSTATE.
	ErrRejected = errors.New("rejected by a database rule")

	// ErrUnavailable: the database could not be reached or answered in time, the pool had
	// no free connection, or a conflict persisted through every retry. Worth retrying later.
	ErrUnavailable = errors.New("database unavailable")

	// ErrNotMigrated: the database answers but lacks the routines or tables this binary
	// calls (SQLSTATE 42883 undefined_function or 42P01 undefined_table), because
	// secretsdb migrate up has not run on it or it stopped at an older version. Retrying
	// does not help until the migrations are applied. The error is a *DatabaseError.
	ErrNotMigrated = errors.New("database has no secretsdb schema, or an older one")
)

// InputError reports the field that failed validation, in Go or in the SQL routine.
type InputError struct {
	// Field is the input's name as the API spells it (check_in_days, email, ...).
	Field string
	// Message says what the rule is and what was given, e.g.
	// "check_in_days must be 2..3650, got 0".
	Message string
}

func (e *InputError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// DatabaseError carries a PostgreSQL error that maps to a sentinel but whose details the
// caller may want to log: the SQLSTATE, the server's message, and the sentinel's meaning.
type DatabaseError struct {
	Kind    error
	Code    string
	Message string
	err     error
}

func (e *DatabaseError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%v: %s", e.Kind, e.Message)
	}
	return fmt.Sprintf("%v: %s (SQLSTATE %s)", e.Kind, e.Message, e.Code)
}

// Is makes errors.Is match the sentinel Kind.
func (e *DatabaseError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the driver's error.
func (e *DatabaseError) Unwrap() error { return e.err }

// retryable reports the SQLSTATEs a transaction may simply be run again for.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// mapError turns driver and server errors into the sentinels above. It is the only place
// that knows SQLSTATEs.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	// An error this package already made (a pool that had no connection to give, say)
	// wraps the driver's error too; mapping it again would nest the message twice.
	var de *DatabaseError
	var ie *InputError
	if errors.As(err, &de) || errors.As(err, &ie) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return mapPgError(pe)
	}

	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err),
		errors.As(err, &connectErr), errors.As(err, &netErr):
		return &DatabaseError{Kind: ErrUnavailable, Message: err.Error(), err: err}
	}
	return err
}

func mapPgError(pe *pgconn.PgError) error {
	dbErr := func(kind error) error {
		return &DatabaseError{Kind: kind, Code: pe.Code, Message: pe.Message, err: pe}
	}
	switch pe.Code {
	case "SD001":
		return &InputError{Field: pe.ColumnName, Message: pe.Message}
	case "SD002":
		return dbErr(ErrEmailInUse)
	case "SD003":
		return dbErr(ErrSecretNotFound)
	case "SD004":
		return dbErr(ErrSecretTriggered)
	case "22021", "22P05":
		// A NUL byte or invalid UTF-8 that slipped past Go's checks: the server refuses it
		// before any routine runs, so no field is known.
		return &InputError{Field: "", Message: "text must be valid UTF-8 without NUL bytes"}
	case "40001", "40P01", "53300", "57014", "57P01", "57P02", "57P03":
		return dbErr(ErrUnavailable)
	case "42883", "42P01":
		// The routine or table is not there: the schema was never migrated, or only
		// partly. A deployment state, not a bug to page about with a 500.
		return dbErr(ErrNotMigrated)
	case "P0001", "SD005":
		// SD005 is the audit trail refusing an UPDATE or DELETE. secretsdb never sends one,
		// so only a rule added around its tables (a DBA's trigger pruning audit rows on
		// insert) can raise it inside a call: a refused write, like any other such rule.
		return dbErr(ErrRejected)
	}
	// A proxy or a broken server may send a code that is not five characters; it is then
	// an unexpected error rather than an index out of range.
	var class string
	if len(pe.Code) == 5 {
		class = pe.Code[:2]
	}
	switch class {
	case "08", "53":
		return dbErr(ErrUnavailable)
	case "23":
		return dbErr(ErrRejected)
	}
	return fmt.Errorf("unexpected database error: %w", pe)
}
