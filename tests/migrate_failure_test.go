package tests

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// failingOnLine12 creates a table, inserts into it, and then selects a column that does not
// exist; the bad column name starts line 12, column 5.
const failingOnLine12 = `-- Creates widgets, then fails on a column that does not exist (line 12).

-- +goose Up
CREATE TABLE public.widgets (
    id integer NOT NULL
);

INSERT INTO public.widgets (id)
VALUES (1);

SELECT id,
    no_such_column
FROM public.widgets;

-- +goose Down
DROP TABLE public.widgets;
`

// TestMigrateFailureLocatesTheError checks that a failing statement is reported at its
// line and column in the file with the server's SQLSTATE and message, that the failing
// transactional file leaves nothing behind, and that status tells the truth afterwards.
func TestMigrateFailureLocatesTheError(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_gadgets.sql": simpleMigration("gadgets"),
		"00002_widgets.sql": failingOnLine12,
	})

	run := runMigrate(t, db.URL, "up", "--dir", dir, "--json")

	if run.code != 1 {
		t.Fatalf("up with a failing file: want exit 1\n%s", run)
	}
	doc := parseDoc(t, run)
	if doc.Error == nil || doc.Error.Kind != "migration_failed" || doc.Error.Migration == nil {
		t.Fatalf("want a migration_failed error\n%s", run)
	}
	m := doc.Error.Migration
	if m.File != "00002_widgets.sql" || m.Line != 12 || m.Column != 5 || m.StatementLine != 11 {
		t.Errorf("failure at %s:%d:%d (statement line %d), want 00002_widgets.sql:12:5 (11)",
			m.File, m.Line, m.Column, m.StatementLine)
	}
	if m.SQLState != "42703" || !strings.Contains(m.Message, "no_such_column") {
		t.Errorf("sqlstate %q message %q, want 42703 naming no_such_column", m.SQLState, m.Message)
	}
	if !m.Transactional {
		t.Error("transactional = false for a file without NO TRANSACTION")
	}
	if len(doc.Applied) != 1 || doc.Applied[0].Version != 1 || doc.VersionAfter != 1 {
		t.Errorf("applied %+v, version after %d; want version 1 applied and kept",
			doc.Applied, doc.VersionAfter)
	}
	if !strings.Contains(run.stderr, "00002_widgets.sql") ||
		!strings.Contains(run.stderr, "line 12") {
		t.Errorf("stderr does not name the file and line 12:\n%s", run.stderr)
	}

	var widgets *string
	if err := db.Pool.QueryRow(dbCtx(t), "SELECT to_regclass('public.widgets')::text").
		Scan(&widgets); err != nil {
		t.Fatal(err)
	}
	if widgets != nil {
		t.Error("the failed transactional file left public.widgets behind")
	}

	status := parseDoc(t, runMigrate(t, db.URL, "status", "--dir", dir, "--json"))
	if status.Version != 1 || len(status.Migrations) != 2 ||
		status.Migrations[0].State != "applied" || status.Migrations[1].State != "pending" {
		t.Errorf("status after the failure: version %d, migrations %+v; want 1 applied, 2 pending",
			status.Version, status.Migrations)
	}

	human := runMigrate(t, db.URL, "up", "--dir", dir)
	if human.code != 1 || !strings.Contains(human.stdout, "00002_widgets.sql:12:5") ||
		!strings.Contains(human.stdout, "42703") {
		t.Errorf("the text report does not show 00002_widgets.sql:12:5 and 42703\n%s", human)
	}
}

// TestMigrateLockTimeoutNamesTheLock holds an ACCESS SHARE lock on a table, as a long
// read transaction does, and checks that an ALTER TABLE migration gives up after
// --lock-timeout-ddl instead of queueing, naming the table, the mode it waited for, and
// the session in the way with the mode that session holds.
func TestMigrateLockTimeoutNamesTheLock(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	if _, err := db.Pool.Exec(dbCtx(t), "CREATE TABLE public.checkins (id integer)"); err != nil {
		t.Fatal(err)
	}
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_checkins_note.sql": "-- Adds a note.\n\n-- +goose Up\n" +
			"ALTER TABLE public.checkins ADD COLUMN note text;\n\n" +
			"-- +goose Down\nALTER TABLE public.checkins DROP COLUMN note;\n",
	})

	tx, err := db.Pool.Begin(dbCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(dbCtx(t)) }()
	var holder int32
	if err := tx.QueryRow(dbCtx(t), "SELECT pg_backend_pid()").Scan(&holder); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(dbCtx(t), "LOCK TABLE public.checkins IN ACCESS SHARE MODE"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	run := runMigrate(t, db.URL, "up", "--dir", dir, "--json", "--lock-timeout-ddl", "500ms")
	elapsed := time.Since(start)

	if run.code != 1 {
		t.Fatalf("up behind a lock: want exit 1\n%s", run)
	}
	if elapsed > 15*time.Second {
		t.Errorf("up took %s behind the lock; lock_timeout 500ms should end it quickly", elapsed)
	}
	doc := parseDoc(t, run)
	if doc.Error == nil || doc.Error.Migration == nil {
		t.Fatalf("want a migration_failed error\n%s", run)
	}
	m := doc.Error.Migration
	if m.SQLState != "55P03" || m.File != "00001_checkins_note.sql" || m.Line != 4 {
		t.Errorf("sqlstate %q at %s:%d, want 55P03 at 00001_checkins_note.sql:4",
			m.SQLState, m.File, m.Line)
	}
	if m.LockWait == nil || m.LockWait.Relation != "public.checkins" ||
		m.LockWait.Mode != "AccessExclusiveLock" {
		t.Fatalf("lock_wait %+v, want AccessExclusiveLock on public.checkins\n%s", m.LockWait, run)
	}
	found := false
	for _, b := range m.LockWait.Blockers {
		if b.PID == holder {
			found = true
			if len(b.HeldModes) != 1 || b.HeldModes[0] != "AccessShareLock" ||
				b.QueuedMode != "" {
				t.Errorf("the holder holds %v, queued for %q; want AccessShareLock only",
					b.HeldModes, b.QueuedMode)
			}
		}
	}
	if !found {
		t.Errorf("blockers %+v do not include the holding session, pid %d",
			m.LockWait.Blockers, holder)
	}
	if !strings.Contains(doc.Error.Message, "public.checkins") ||
		!strings.Contains(run.stderr, "public.checkins") {
		t.Errorf("the error message does not name public.checkins\n%s", run)
	}
	human := runMigrate(t, db.URL, "up", "--dir", dir, "--lock-timeout-ddl", "500ms")
	want := "AccessExclusiveLock on public.checkins, blocked by pid " +
		strconv.Itoa(int(holder)) + " holding AccessShareLock ("
	if human.code != 1 || !strings.Contains(human.stdout, want) {
		t.Errorf("the text report does not say %q\n%s", want, human)
	}

	if err := tx.Rollback(dbCtx(t)); err != nil {
		t.Fatal(err)
	}
	again := parseDoc(t, runMigrate(t, db.URL, "up", "--dir", dir, "--json"))
	if !again.OK || len(again.Applied) != 1 {
		t.Errorf("up once the lock is gone: ok %v, applied %+v; want the file applied",
			again.OK, again.Applied)
	}
}

// TestMigrateNoTransactionFileReruns fails a NO TRANSACTION index build, then fixes the
// file and reruns it: the version was not recorded, so no hand-editing is needed.
func TestMigrateNoTransactionFileReruns(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	index := func(column string) string {
		return "-- Indexes widgets by name without blocking writes.\n" +
			"-- +goose NO TRANSACTION\n\n-- +goose Up\n" +
			"CREATE INDEX CONCURRENTLY IF NOT EXISTS widgets_name_idx ON public.widgets (" +
			column + ");\n\n-- +goose Down\n" +
			"DROP INDEX CONCURRENTLY IF EXISTS public.widgets_name_idx;\n"
	}
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_widgets.sql": "-- Widgets.\n\n-- +goose Up\n" +
			"CREATE TABLE public.widgets (\n    id integer NOT NULL,\n    name text\n);\n\n" +
			"-- +goose Down\nDROP TABLE public.widgets;\n",
		"00002_widgets_name.sql": index("nmae"), //nolint:misspell // the typo is the failure
	})

	run := runMigrate(t, db.URL, "up", "--dir", dir, "--json")

	doc := parseDoc(t, run)
	if run.code != 1 || doc.Error == nil || doc.Error.Migration == nil {
		t.Fatalf("want the index build to fail\n%s", run)
	}
	if m := doc.Error.Migration; m.Transactional || m.Line != 5 || m.SQLState != "42703" ||
		!strings.Contains(m.Advice, "NO TRANSACTION") {
		t.Errorf("failure %+v: want non-transactional, line 5, 42703, advice on NO TRANSACTION",
			m)
	}
	if doc.VersionAfter != 1 {
		t.Errorf("version after the failure = %d, want 1", doc.VersionAfter)
	}

	writeMigrations(t, dir, map[string]string{"00002_widgets_name.sql": index("name")})
	fixed := parseDoc(t, runMigrate(t, db.URL, "up", "--dir", dir, "--json"))
	if !fixed.OK || fixed.VersionAfter != 2 {
		t.Errorf("up after fixing the file: ok %v, version %d; want version 2",
			fixed.OK, fixed.VersionAfter)
	}
	verify := runMigrate(t, db.URL, "verify", "--dir", filepath.Clean(dir))
	if verify.code != 0 {
		t.Errorf("verify after the rerun: want exit 0\n%s", verify)
	}
}
