package secrets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// requireMapped fails unless err is want under errors.Is, an *InputError with field when
// want is ErrInvalidInput, and a *DatabaseError with code for the other sentinels.
func requireMapped(t *testing.T, err, want error, field, code string) {
	t.Helper()
	if want == nil {
		if errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrEmailInUse) ||
			errors.Is(err, ErrSecretNotFound) || errors.Is(err, ErrSecretTriggered) ||
			errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) ||
			errors.Is(err, ErrNotMigrated) {
			t.Fatalf("mapped to a sentinel: %v, want an unexpected error", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("mapped = %v, want %v", err, want)
	}
	var ie *InputError
	var de *DatabaseError
	switch {
	case errors.Is(want, ErrInvalidInput):
		if !errors.As(err, &ie) || ie.Field != field {
			t.Fatalf("mapped = %#v, want an *InputError for field %q", err, field)
		}
	case code != "":
		if !errors.As(err, &de) || de.Code != code {
			t.Fatalf("mapped = %#v, want a *DatabaseError with SQLSTATE %s", err, code)
		}
	}
}

// The SQLSTATEs the SQL API documents, and those PostgreSQL raises around it, each map to
// one sentinel.
func TestMapErrorSQLStates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code   string
		column string
		want   error
	}{
		{"SD001", "check_in_days", ErrInvalidInput},
		{"SD001", "email", ErrInvalidInput},
		{"SD002", "email", ErrEmailInUse},
		{"SD003", "secret_id", ErrSecretNotFound},
		{"SD004", "secret_id", ErrSecretTriggered},
		{"SD005", "", ErrRejected},
		{"P0001", "", ErrRejected},
		{"23505", "", ErrRejected},
		{"23514", "", ErrRejected},
		{"22021", "", ErrInvalidInput},
		{"22P05", "", ErrInvalidInput},
		{"40001", "", ErrUnavailable},
		{"40P01", "", ErrUnavailable},
		{"53300", "", ErrUnavailable},
		{"57014", "", ErrUnavailable},
		{"57P01", "", ErrUnavailable},
		{"08006", "", ErrUnavailable},
		{"42883", "", ErrNotMigrated},
		{"42P01", "", ErrNotMigrated},
		{"42501", "", nil},
		{"", "", nil},
		{"X", "", nil},
	}
	for _, tc := range cases {
		t.Run("SQLSTATE"+tc.code, func(t *testing.T) {
			t.Parallel()
			pe := &pgconn.PgError{Code: tc.code, Message: "m", ColumnName: tc.column}

			err := mapError(fmt.Errorf("calling: %w", pe))

			requireMapped(t, err, tc.want, tc.column, tc.code)
			if !errors.As(err, new(*pgconn.PgError)) && !errors.Is(tc.want, ErrInvalidInput) {
				t.Fatalf("mapped %v hides the driver's error from errors.As", err)
			}
		})
	}
}

// Errors that are not from the server: timeouts and broken connections are unavailable,
// cancellation stays cancellation, and anything else is left for the caller to see.
func TestMapErrorDriverErrors(t *testing.T) {
	t.Parallel()
	other := errors.New("something else")
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"Nil", nil, nil},
		{"Canceled", context.Canceled, context.Canceled},
		{"DeadlineExceeded", context.DeadlineExceeded, ErrUnavailable},
		{"NetError", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, ErrUnavailable},
		{"Other", other, other},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			err := mapError(tc.err)

			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("mapError(%v) = %v, want %v", tc.err, err, tc.want)
			}
		})
	}
}

// The same mapping on errors the real server raises, from the SQL API's routines and from
// what a DBA may add around them.
func TestMapErrorFromServer(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	exec := func(t *testing.T, sql string, args ...any) error {
		t.Helper()
		_, err := db.Pool.Exec(testCtx(t), sql, args...)
		return err
	}
	mustExec := func(t *testing.T, sql string, args ...any) {
		t.Helper()
		if err := exec(t, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var secretID string
	err := db.Pool.QueryRow(testCtx(t), `CALL public.create_secret(
		p_user_id => 'owner', p_email => 'owner@example.com', p_title => 't',
		p_recipient_name => 'r', p_server_share => 's', p_recipient_email => 'r@example.com')`).
		Scan(&secretID, new(string), new(string), new(any))
	if err != nil {
		t.Fatalf("arrange: %v", err)
	}
	mustExec(t, `UPDATE public.secrets SET status = 'triggered' WHERE id = $1`, secretID)

	cases := []struct {
		name  string
		sql   string
		args  []any
		want  error
		field string
		code  string
	}{
		{"InvalidInput", `SELECT * FROM public.ensure_user('u', '  ')`, nil,
			ErrInvalidInput, "email", ""},
		{"EmailInUse", `SELECT * FROM public.ensure_user('other', 'OWNER@example.com')`, nil,
			ErrEmailInUse, "", "SD002"},
		{"NotFound", `CALL public.record_check_in(p_user_id => 'owner',
			p_email => 'owner@example.com', p_secret_id => gen_random_uuid()::text)`, nil,
			ErrSecretNotFound, "", "SD003"},
		{"Triggered", `CALL public.record_check_in(p_user_id => 'owner',
			p_email => 'owner@example.com', p_secret_id => $1)`, []any{secretID},
			ErrSecretTriggered, "", "SD004"},
		{"AuditAppendOnly", `DELETE FROM public.audit_events`, nil,
			ErrRejected, "", "SD005"},
		{"NULByte", `SELECT $1::text`, []any{"a\x00b"}, ErrInvalidInput, "", ""},
		{"InvalidUTF8", `SELECT $1::text`, []any{"a\xff\xfeb"}, ErrInvalidInput, "", ""},
		{"Canceled", `SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)`, nil,
			ErrUnavailable, "", "57014"},
		{"UndefinedFunction", `SELECT public.no_such_routine()`, nil,
			ErrNotMigrated, "", "42883"},
		{"UndefinedTable", `SELECT * FROM public.no_such_table`, nil,
			ErrNotMigrated, "", "42P01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := exec(t, tc.sql, tc.args...)
			if err == nil {
				t.Fatalf("%s succeeded, want an error", tc.sql)
			}

			requireMapped(t, mapError(err), tc.want, tc.field, tc.code)
		})
	}
}

// A database that answers but was never migrated is ErrNotMigrated with the SQLSTATE,
// from every operation, so the API can tell it from one that cannot be reached.
func TestServiceOnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	svc := New(testdb.NewEmpty(t).Pool, Options{})
	sess := Session{UserID: "u", Email: "u@example.com"}
	secret := NewSecret{Title: "t", RecipientName: "r", RecipientEmail: "r@example.com",
		ContactMethod: "email", CheckInDays: 30, ServerShare: "s", SharesTotal: 3,
		Threshold: 2}
	const id = "6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887"
	cases := []struct {
		name string
		code string
		call func(ctx context.Context) error
	}{
		{"SchemaVersion", "42883", func(ctx context.Context) error {
			_, err := svc.SchemaVersion(ctx)
			return err
		}},
		{"CreateSecret", "42883", func(ctx context.Context) error {
			_, err := svc.CreateSecret(ctx, sess, secret)
			return err
		}},
		{"CheckIn", "42883", func(ctx context.Context) error {
			_, err := svc.CheckIn(ctx, sess, id)
			return err
		}},
		{"ListSecrets", "42P01", func(ctx context.Context) error {
			_, err := svc.ListSecrets(ctx, sess)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(testCtx(t))

			requireMapped(t, err, ErrNotMigrated, "", tc.code)
			if errors.Is(err, ErrUnavailable) {
				t.Fatalf("%v also matches ErrUnavailable", err)
			}
		})
	}
}

// A *DatabaseError reads once: mapping an error this package already made must not wrap
// it again, and an error without a SQLSTATE must not print an empty one.
func TestDatabaseErrorReadsOnce(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("parsing %s: %v", db.Name, err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("pool of one: %v", err)
	}
	t.Cleanup(pool.Close)
	held, err := pool.Acquire(testCtx(t))
	if err != nil {
		t.Fatalf("taking the only connection: %v", err)
	}
	t.Cleanup(held.Release)
	svc := New(pool, Options{AcquireTimeout: 50 * time.Millisecond})

	_, err = svc.ListSecrets(testCtx(t), Session{UserID: "u", Email: "u@example.com"})

	var de *DatabaseError
	if !errors.As(err, &de) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error = %v, want a *DatabaseError matching ErrUnavailable", err)
	}
	msg := err.Error()
	if n := strings.Count(msg, ErrUnavailable.Error()); n != 1 {
		t.Fatalf("error %q says %q %d times, want once", msg, ErrUnavailable, n)
	}
	if strings.Contains(msg, "SQLSTATE") {
		t.Fatalf("error %q names a SQLSTATE it does not have", msg)
	}
	var again *DatabaseError
	if !errors.As(mapError(err), &again) || again != de {
		t.Fatalf("mapError(%q) = %v, want the same *DatabaseError back", msg, mapError(err))
	}
	withCode := mapError(&pgconn.PgError{Code: "40001", Message: "could not serialize"})
	if got, want := withCode.Error(),
		"database unavailable: could not serialize (SQLSTATE 40001)"; got != want {
		t.Fatalf("error = %q, want %q", got, want)
	}
}

// A role without the grants the service needs is a deployment bug: it must surface as an
// unexpected error (500 at the API), never as a client's fault or a retry.
func TestMapErrorPermissionDenied(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	role := testdb.NewLoginRole(t)
	pool, err := pgxpool.New(testCtx(t), db.URLAs(t, role))
	if err != nil {
		t.Fatalf("connecting as %s: %v", role, err)
	}
	t.Cleanup(pool.Close)

	_, err = New(pool, Options{}).EnsureUser(testCtx(t),
		Session{UserID: "u", Email: "u@example.com"})

	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("error = %v, want SQLSTATE 42501", err)
	}
	requireMapped(t, err, nil, "", "")
}

func BenchmarkMapError(b *testing.B) {
	errs := []error{
		fmt.Errorf("calling: %w", &pgconn.PgError{Code: "SD001", ColumnName: "title"}),
		&pgconn.PgError{Code: "SD003", Message: "secret not found"},
		&pgconn.PgError{Code: "40001"},
		&pgconn.PgError{Code: "23505"},
		context.DeadlineExceeded,
		errors.New("other"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = mapError(errs[i%len(errs)])
	}
}
