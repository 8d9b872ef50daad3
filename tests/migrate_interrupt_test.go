package tests

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// TestMigrateInterruptedUp sends SIGTERM to a runner in the middle of a migration, as a
// deploy's deadline or an eviction does, and checks that the report says what became of
// the migration and the lock, not the driver's "context canceled", and that it is true.
func TestMigrateInterruptedUp(t *testing.T) {
	t.Parallel()
	slow := func(noTx bool) string {
		head := "-- Creates a table, then sleeps long enough to be interrupted.\n"
		if noTx {
			head += "-- +goose NO TRANSACTION\n"
		}
		return head + "\n-- +goose Up\nCREATE TABLE public.interrupted (id integer);\n" +
			"SELECT pg_sleep(300);\n\n-- +goose Down\nDROP TABLE public.interrupted;\n"
	}
	for _, tc := range []struct {
		name      string
		noTx      bool
		said      string
		tableLeft bool
	}{
		{"Transactional", false, "interrupted: the running migration, 00001_slow.sql, was " +
			"rolled back; the lock was released", false},
		{"NoTransaction", true, "interrupted: the running migration, 00001_slow.sql, runs " +
			"without a transaction (NO TRANSACTION) and may be partly applied; its version " +
			"was not recorded; the lock was released", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.NewEmpty(t)
			dir := writeMigrations(t, t.TempDir(), map[string]string{
				"00001_slow.sql": slow(tc.noTx),
			})
			ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
			defer cancel()
			cmd, stdout, stderr := migrateCmd(ctx, t, migrateEnv(),
				"up", "--dir", dir, "--json", "--database-url", db.URL)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForSleep(t, db.Pool)

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			run := waitRun(t, cmd, stdout, stderr)

			doc := parseDoc(t, run)
			if run.code != 1 || doc.Error == nil || doc.Error.Kind != "interrupted" ||
				doc.Error.Message != tc.said || !strings.Contains(run.stderr, tc.said) {
				t.Fatalf("want exit 1 and an interrupted error saying %q\n%s", tc.said, run)
			}
			if strings.Contains(run.stdout+run.stderr, "context canceled") {
				t.Errorf("the report speaks of the driver's context\n%s", run)
			}
			if in := doc.Error.Interrupted; in == nil || in.File != "00001_slow.sql" ||
				in.Transactional == tc.noTx || in.Recorded || !in.LockReleased {
				t.Errorf("interrupted %+v, want 00001_slow.sql unrecorded, lock released", in)
			}

			var table *string
			var locks int
			err := db.Pool.QueryRow(dbCtx(t), `
				SELECT to_regclass('public.interrupted')::text,
					(SELECT count(*) FROM pg_locks
					 WHERE locktype = 'advisory' AND database = (
						SELECT oid FROM pg_database WHERE datname = current_database()))
			`).Scan(&table, &locks)
			if err != nil {
				t.Fatal(err)
			}
			if (table != nil) != tc.tableLeft || locks != 0 {
				t.Errorf("after the interruption the table exists: %v (want %v), "+
					"advisory locks held: %d (want 0)", table != nil, tc.tableLeft, locks)
			}
		})
	}
}
