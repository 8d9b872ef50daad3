package tests

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/testdb"
	"github.com/secretsdb/secretsdb/migrations"
)

// Every failure of the Service is one of its sentinels, found with errors.Is, with the
// field or SQLSTATE the caller needs, whichever layer (Go or the SQL routine) refused it.
func TestServiceErrorsAreSentinels(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	svc := secrets.New(db.Pool, secrets.Options{})
	owner := secrets.Session{UserID: "103890241628354500674", Email: "sam.rivera@example.org"}
	ctx := apiCtx(t)
	mine, err := svc.CreateSecret(ctx, owner, newSecret())
	if err != nil {
		t.Fatalf("arrange: %v", err)
	}
	fired, err := svc.CreateSecret(ctx, owner, newSecret())
	if err != nil {
		t.Fatalf("arrange: %v", err)
	}
	apiExec(t, db, `UPDATE public.secrets SET status = 'triggered' WHERE id = $1`,
		fired.SecretID)
	stranger := secrets.Session{UserID: "stranger", Email: "stranger@example.com"}

	withSecret := func(change func(*secrets.NewSecret)) func() error {
		return func() error {
			n := newSecret()
			change(&n)
			_, err := svc.CreateSecret(apiCtx(t), stranger, n)
			return err
		}
	}
	cases := []struct {
		name  string
		call  func() error
		want  error
		field string
	}{
		{"CheckInDays", withSecret(func(n *secrets.NewSecret) { n.CheckInDays = 0 }),
			secrets.ErrInvalidInput, "check_in_days"},
		{"NULInTitle", withSecret(func(n *secrets.NewSecret) { n.Title = "a\x00b" }),
			secrets.ErrInvalidInput, "title"},
		{"InvalidUTF8", withSecret(func(n *secrets.NewSecret) { n.RecipientName = "\xff\xfe" }),
			secrets.ErrInvalidInput, "recipient_name"},
		{"BlankEmail", func() error {
			_, err := svc.EnsureUser(apiCtx(t), secrets.Session{UserID: "x", Email: "  "})
			return err
		}, secrets.ErrInvalidInput, "email"},
		{"EmailInUse", func() error {
			_, err := svc.EnsureUser(apiCtx(t), secrets.Session{
				UserID: "gh-4412", Email: "SAM.RIVERA@example.org", EmailVerified: true})
			return err
		}, secrets.ErrEmailInUse, ""},
		{"OthersSecret", func() error {
			_, err := svc.CheckIn(apiCtx(t), stranger, mine.SecretID)
			return err
		}, secrets.ErrSecretNotFound, ""},
		{"MalformedSecretID", func() error {
			_, err := svc.CheckIn(apiCtx(t), owner, "42")
			return err
		}, secrets.ErrInvalidInput, "secret_id"},
		{"Triggered", func() error {
			_, err := svc.CheckIn(apiCtx(t), owner, fired.SecretID)
			return err
		}, secrets.ErrSecretTriggered, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()

			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			var ie *secrets.InputError
			if errors.As(err, &ie) != (tc.field != "") || (ie != nil && ie.Field != tc.field) {
				t.Fatalf("error %v: InputError %+v, want field %q", err, ie, tc.field)
			}
		})
	}
	if n := apiCount(t, db, `SELECT count(*) FROM public.users WHERE id <> $1`,
		owner.UserID); n != 0 {
		t.Fatalf("failed calls left %d user rows", n)
	}
}

// C10 at the Service: what a DBA adds around the tables (a trigger, a constraint, a
// trigger that prunes the append-only audit trail) and refuses a write is ErrRejected,
// carrying the SQLSTATE and message for the log, and leaves nothing behind.
func TestServiceRejectedCarriesSQLState(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		ddl     []string
		code    string
		message string
	}{
		{"Trigger", []string{
			`CREATE FUNCTION public.pause_signups() RETURNS trigger
				LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'signup paused'; END $$`,
			`CREATE TRIGGER pause_signups AFTER INSERT ON public.users
				FOR EACH ROW EXECUTE FUNCTION public.pause_signups()`,
		}, "P0001", "signup paused"},
		{"Constraint", []string{
			`ALTER TABLE public.secrets ADD CONSTRAINT secrets_title_not_letter
				CHECK (title <> 'Letter to Alex')`,
		}, "23514", "secrets_title_not_letter"},
		{"AuditPruning", []string{
			`CREATE FUNCTION public.prune_audit() RETURNS trigger
				LANGUAGE plpgsql AS $$ BEGIN
					DELETE FROM public.audit_events WHERE user_id = NEW.user_id;
					RETURN NULL;
				END $$`,
			`CREATE TRIGGER prune_audit AFTER INSERT ON public.secrets
				FOR EACH ROW EXECUTE FUNCTION public.prune_audit()`,
		}, "SD005", "append-only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t)
			svc := secrets.New(db.Pool, secrets.Options{})
			for _, ddl := range tc.ddl {
				apiExec(t, db, ddl)
			}
			sess := secrets.Session{UserID: "rejected", Email: "rejected@example.com"}

			_, err := svc.CreateSecret(apiCtx(t), sess, newSecret())

			var de *secrets.DatabaseError
			if !errors.Is(err, secrets.ErrRejected) || !errors.As(err, &de) {
				t.Fatalf("error = %v, want ErrRejected as a *DatabaseError", err)
			}
			if de.Code != tc.code || !strings.Contains(de.Message, tc.message) {
				t.Fatalf("DatabaseError = %q, %q, want %s, %q", de.Code, de.Message,
					tc.code, tc.message)
			}
			requireNoRows(t, db)
		})
	}
}

// A database that cannot be reached is ErrUnavailable, quickly, not a hang or a raw
// driver error.
func TestServiceUnreachableDatabase(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(
		"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("parsing URL: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(apiCtx(t), cfg)
	if err != nil {
		t.Fatalf("lazy pool: %v", err)
	}
	t.Cleanup(pool.Close)
	svc := secrets.New(pool, secrets.Options{AcquireTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()

	start := time.Now()
	_, err = svc.CreateSecret(ctx, secrets.Session{UserID: "u", Email: "u@example.com"},
		newSecret())

	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > noHang {
		t.Fatalf("unreachable database answered after %s, over the %s bound", took, noHang)
	}
}

// The rest of the Service's surface on one user: EnsureUser's outcomes, UserExists through
// a linked id, ListSecrets of the caller only, and the schema version.
func TestServiceUsersAndLists(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	svc := secrets.New(db.Pool, secrets.Options{LinkVerifiedEmail: true})
	ctx := apiCtx(t)
	google := secrets.Session{UserID: "103890241628354500674",
		Email: " Sam.Rivera@Example.org ", EmailVerified: true, Provider: "google"}
	github := secrets.Session{UserID: "gh-4412", Email: "sam.rivera@example.org",
		EmailVerified: true, Provider: "github"}

	steps := []struct {
		sess secrets.Session
		want secrets.Outcome
	}{
		{google, secrets.OutcomeCreated},
		{google, secrets.OutcomeExisting},
		{github, secrets.OutcomeLinked},
		{github, secrets.OutcomeExisting},
	}
	for i, s := range steps {
		u, err := svc.EnsureUser(ctx, s.sess)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if u.ID != google.UserID || u.Email != "sam.rivera@example.org" || u.Outcome != s.want {
			t.Fatalf("step %d: %+v, want %s, sam.rivera@example.org, %s",
				i, u, google.UserID, s.want)
		}
	}
	for id, want := range map[string]bool{google.UserID: true, "gh-4412": true, "nobody": false} {
		got, err := svc.UserExists(ctx, id)
		if err != nil || got != want {
			t.Fatalf("UserExists(%q) = %v, %v, want %v", id, got, err, want)
		}
	}

	c, err := svc.CreateSecret(ctx, github, newSecret())
	if err != nil {
		t.Fatalf("CreateSecret through the linked id: %v", err)
	}
	if _, err := svc.CreateSecret(ctx, secrets.Session{UserID: "other",
		Email: "other@example.com"}, newSecret()); err != nil {
		t.Fatalf("CreateSecret of another user: %v", err)
	}
	for _, s := range []secrets.Session{google, github} {
		list, err := svc.ListSecrets(ctx, s)
		if err != nil || len(list) != 1 || list[0].ID != c.SecretID {
			t.Fatalf("ListSecrets(%s) = %+v, %v, want only %s", s.UserID, list, err, c.SecretID)
		}
	}
	if list, err := svc.ListSecrets(ctx, secrets.Session{UserID: "nobody"}); err != nil ||
		len(list) != 0 {
		t.Fatalf("ListSecrets of an unknown user = %+v, %v, want none", list, err)
	}
	if n := apiCount(t, db, `SELECT count(*) FROM public.users WHERE id = 'nobody'`); n != 0 {
		t.Fatalf("listing created a user")
	}

	if c.NextCheckIn.IsZero() {
		t.Fatalf("CreateSecret returned no next check-in")
	}
	latest, err := migrate.LatestVersion(migrations.FS)
	if err != nil {
		t.Fatalf("latest migration: %v", err)
	}
	if v, err := svc.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("SchemaVersion = %d, %v, want %d", v, err, latest)
	}
}
