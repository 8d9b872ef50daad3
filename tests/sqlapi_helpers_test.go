package tests

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// Fixtures shared by the SQL API tests. googleSubject is a real-shaped Google subject: it
// does not fit in a bigint, so any numeric handling of ids would corrupt it.
const (
	googleSubject = "103890241628354500674"
	jordanEmail   = "jordan.lee@example.com"
	testShare     = "c2hhcmUtb2YtdGhlLXNlcnZlci0xMjM0NTY3ODkw"
)

// queryTimeout bounds every statement of these tests; the slowest is a 64-way concurrent
// call, which takes well under a second on an idle server.
const queryTimeout = 30 * time.Second

// querier is what a pool, a connection and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ensuredUser is the row ensure_user returns.
type ensuredUser struct {
	ID      string
	Email   string
	Outcome string
}

// createdSecret holds the INOUT columns create_secret returns.
type createdSecret struct {
	SecretID    string
	UserID      string
	Outcome     string
	NextCheckIn time.Time
}

// checkIn holds the INOUT columns record_check_in returns.
type checkIn struct {
	UserID      string
	Outcome     string
	CheckedInAt time.Time
	NextCheckIn time.Time
}

// args are named-notation arguments of a routine, keyed by parameter name. A key set to
// nil passes SQL NULL; a key left out lets the routine's default apply.
type args map[string]any

// newAPIDB gives the test a freshly migrated database of its own.
func newAPIDB(t *testing.T) *testdb.DB {
	t.Helper()
	return testdb.New(t)
}

// queryCtx returns a context that bounds one step of a test and is cancelled when the test
// ends, so a hung statement fails the test instead of stalling the run.
func queryCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	t.Cleanup(cancel)
	return ctx
}

// namedCall renders "name(p => $1, ...)" with the parameters in a stable order.
func namedCall(routine string, a args) (string, []any) {
	names := make([]string, 0, len(a))
	for name := range a {
		names = append(names, name)
	}
	sort.Strings(names)

	parts := make([]string, len(names))
	values := make([]any, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s => $%d", name, i+1)
		values[i] = a[name]
	}
	return routine + "(" + strings.Join(parts, ", ") + ")", values
}

// merged returns defaults overridden by overrides.
func merged(defaults, overrides args) args {
	out := make(args, len(defaults)+len(overrides))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range overrides {
		out[k] = v
	}
	return out
}

// callEnsureUser calls ensure_user with the given arguments only.
func callEnsureUser(ctx context.Context, q querier, a args) (ensuredUser, error) {
	call, values := namedCall("public.ensure_user", a)
	var u ensuredUser
	err := q.QueryRow(ctx, "SELECT user_id, email, outcome FROM "+call, values...).
		Scan(&u.ID, &u.Email, &u.Outcome)
	return u, err
}

// secretDefaults are the required inputs of create_secret for a secret sent by email, so
// that a test names only what it is about.
var secretDefaults = args{
	"p_user_id":         googleSubject,
	"p_email":           jordanEmail,
	"p_title":           "Letter to Alex",
	"p_recipient_name":  "Alex Morgan",
	"p_recipient_email": "alex.morgan@example.net",
	"p_server_share":    testShare,
}

// callCreateSecret calls create_secret with secretDefaults overridden by a. The INOUT
// parameters are left out, which named notation allows because they have defaults.
func callCreateSecret(ctx context.Context, q querier, a args) (createdSecret, error) {
	call, values := namedCall("public.create_secret", merged(secretDefaults, a))
	var s createdSecret
	err := q.QueryRow(ctx, "CALL "+call, values...).
		Scan(&s.SecretID, &s.UserID, &s.Outcome, &s.NextCheckIn)
	return s, err
}

// callRecordCheckIn calls record_check_in for the default session user unless a says
// otherwise.
func callRecordCheckIn(ctx context.Context, q querier, a args) (checkIn, error) {
	defaults := args{"p_user_id": googleSubject, "p_email": jordanEmail}
	call, values := namedCall("public.record_check_in", merged(defaults, a))
	var c checkIn
	err := q.QueryRow(ctx, "CALL "+call, values...).
		Scan(&c.UserID, &c.Outcome, &c.CheckedInAt, &c.NextCheckIn)
	return c, err
}

// mustCreateSecret is callCreateSecret for arrange steps, where an error ends the test.
func mustCreateSecret(t *testing.T, q querier, a args) createdSecret {
	t.Helper()
	s, err := callCreateSecret(queryCtx(t), q, a)
	if err != nil {
		t.Fatalf("create_secret(%v): %v", a, err)
	}
	return s
}

// mustEnsureUser is callEnsureUser for arrange steps.
func mustEnsureUser(t *testing.T, q querier, a args) ensuredUser {
	t.Helper()
	u, err := callEnsureUser(queryCtx(t), q, a)
	if err != nil {
		t.Fatalf("ensure_user(%v): %v", a, err)
	}
	return u
}

// mustExec runs an arrange or cleanup statement.
func mustExec(t *testing.T, q querier, sql string, values ...any) {
	t.Helper()
	if _, err := q.Exec(queryCtx(t), sql, values...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// countRows returns the single integer a counting query yields.
func countRows(t *testing.T, q querier, sql string, values ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(queryCtx(t), sql, values...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// requireSQLState fails the test unless err is a server error with the given SQLSTATE and,
// when column is not empty, the given COLUMN field.
func requireSQLState(t *testing.T, err error, code, column string) *pgconn.PgError {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("error = %v, want SQLSTATE %s", err, code)
	}
	if pgErr.Code != code {
		t.Fatalf("SQLSTATE = %s (%s), want %s", pgErr.Code, pgErr.Message, code)
	}
	if column != "" && pgErr.ColumnName != column {
		t.Fatalf("COLUMN = %q (%s), want %q", pgErr.ColumnName, pgErr.Message, column)
	}
	return pgErr
}

// requireNothingWritten fails the test when any table of the schema holds a row; the
// caller uses it on a database where every call so far should have failed.
func requireNothingWritten(t *testing.T, q querier) {
	t.Helper()
	for _, table := range []string{
		"users", "accounts", "secrets", "checkin_history", "audit_events",
	} {
		if n := countRows(t, q, "SELECT count(*) FROM public."+table); n != 0 {
			t.Fatalf("%s holds %d rows after failed calls, want 0", table, n)
		}
	}
}
