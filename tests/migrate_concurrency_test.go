package tests

import (
	"context"
	"io/fs"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/testdb"
	"github.com/secretsdb/secretsdb/migrations"
)

// TestMigrateConcurrentUp starts two `migrate up` processes together, as two deploys of
// the same release do (failure case C14): both exit 0, every version is applied once, and one of
// them reports that nothing was left to do.
func TestMigrateConcurrentUp(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least 3 embedded migrations, got %d (%v)", len(files), err)
	}

	for _, tc := range []struct {
		name  string
		start int // versions applied before the race
	}{
		{name: "EmptyDatabase", start: 0},
		{name: "TwoVersionsBehind", start: len(files) - 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.NewEmpty(t)
			if tc.start > 0 {
				pre := runMigrate(t, db.URL, "up-to", strconv.Itoa(tc.start))
				if pre.code != 0 {
					t.Fatalf("up-to %d: %s", tc.start, pre)
				}
			}

			runs := raceUp(t, db.URL)

			applied := 0
			idle := 0
			for _, r := range runs {
				if r.code != 0 {
					t.Fatalf("a concurrent up failed:\n%s", r)
				}
				doc := parseDoc(t, r)
				applied += len(doc.Applied)
				if doc.NothingToDo {
					idle++
				}
				if doc.VersionAfter != int64(len(files)) {
					t.Errorf("a runner reports version %d, want %d", doc.VersionAfter, len(files))
				}
			}
			if want := len(files) - tc.start; applied != want {
				t.Errorf("the two runners applied %d migrations together, want %d", applied, want)
			}
			if idle != 1 {
				t.Errorf("%d runners reported nothing to do, want exactly 1", idle)
			}
			requireAppliedOnce(t, db.Pool, len(files))
		})
	}
}

// raceUp starts two `migrate up --json` processes at once and waits for both.
func raceUp(t *testing.T, url string) []migrateRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	env := migrateEnv()
	var runs []migrateRun
	var pending []func() migrateRun
	for range 2 {
		cmd, stdout, stderr := migrateCmd(ctx, t, env, "up", "--json", "--database-url", url)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting secretsdb: %v", err)
		}
		pending = append(pending, func() migrateRun { return waitRun(t, cmd, stdout, stderr) })
	}
	for _, wait := range pending {
		runs = append(runs, wait())
	}
	return runs
}

// requireAppliedOnce checks that versions 1..n each have exactly one row in goose's table
// and one checksum.
func requireAppliedOnce(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	var rows, versions, sums int
	err := pool.QueryRow(dbCtx(t), `
		SELECT count(*), count(DISTINCT version_id),
			(SELECT count(*) FROM public.secretsdb_migration_checksums)
		FROM public.goose_db_version
		WHERE version_id > 0`).Scan(&rows, &versions, &sums)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || versions != n || sums != n {
		t.Errorf("goose_db_version has %d rows for %d versions and %d checksums, want %d of each",
			rows, versions, sums, n)
	}
}

// TestMigrateKilledRunnerReleasesLock kills a runner in the middle of a migration, holding
// the lock and an open transaction, and checks that the next runner gets the lock within
// seconds, finds nothing of the killed run, and migrates.
func TestMigrateKilledRunnerReleasesLock(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	slow := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_slow.sql": "-- Creates a table, then sleeps long enough to be killed.\n\n" +
			"-- +goose Up\nCREATE TABLE public.from_killed_runner (id integer);\n" +
			"SELECT pg_sleep(300);\n\n-- +goose Down\nDROP TABLE public.from_killed_runner;\n",
	})
	quick := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_quick.sql": simpleMigration("from_next_runner"),
	})

	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	killed, stdout, stderr := migrateCmd(ctx, t, migrateEnv(),
		"up", "--dir", slow, "--database-url", db.URL)
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	waitForSleep(t, db.Pool)
	if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, killed, stdout, stderr); r.code == 0 {
		t.Fatalf("the killed runner exited 0\n%s", r)
	}

	start := time.Now()
	next := runMigrate(t, db.URL, "up", "--dir", quick, "--json", "--lock-timeout", "60s")
	waited := time.Since(start)

	if next.code != 0 {
		t.Fatalf("the next runner failed after a runner was killed:\n%s", next)
	}
	if waited > 30*time.Second {
		t.Errorf("the next runner took %s; the killed runner's lock should go within seconds",
			waited)
	}
	doc := parseDoc(t, next)
	if len(doc.Applied) != 1 || doc.Applied[0].File != "00001_quick.sql" {
		t.Errorf("the next runner applied %+v, want 00001_quick.sql", doc.Applied)
	}
	var leftover *string
	if err := db.Pool.QueryRow(dbCtx(t), "SELECT to_regclass('public.from_killed_runner')::text").
		Scan(&leftover); err != nil {
		t.Fatal(err)
	}
	if leftover != nil {
		t.Error("the killed runner's uncommitted table survived")
	}
}

// waitForSleep waits until a migration session of the test's database runs pg_sleep.
func waitForSleep(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := pool.QueryRow(dbCtx(t), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database()
				AND pid <> pg_backend_pid()
				AND query LIKE 'SELECT pg_sleep(300)%'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the runner never reached its pg_sleep")
}

// TestMigrateLockTimeoutNamesTheHolder holds goose's migration lock from the test, as a
// runner in the middle of a long migration does, and checks that up gives up after
// --lock-timeout, exits 1, names the session holding the lock, and changes nothing.
func TestMigrateLockTimeoutNamesTheHolder(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	conn, err := db.Pool.Acquire(dbCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock_all()"); err != nil {
			t.Errorf("releasing the lock: %v", err)
		}
		conn.Release()
	})
	var holder int32
	err = conn.QueryRow(dbCtx(t), `
		SELECT pg_backend_pid()
		FROM (SELECT pg_advisory_lock(4097083626)) AS locked`).Scan(&holder)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	run := runMigrate(t, db.URL, "up", "--json", "--lock-timeout", "2s")
	waited := time.Since(start)

	if run.code != 1 {
		t.Fatalf("up while another session holds the lock: want exit 1\n%s", run)
	}
	if waited < 2*time.Second || waited > 30*time.Second {
		t.Errorf("up gave up after %s, want about --lock-timeout 2s", waited)
	}
	doc := parseDoc(t, run)
	if doc.Error == nil || doc.Error.Kind != "lock_timeout" || doc.Error.LockHolder == nil ||
		doc.Error.LockHolder.PID != holder {
		t.Fatalf("want a lock_timeout error naming pid %d\n%s", holder, run)
	}
	if doc.VersionAfter != 0 || len(doc.Applied) != 0 {
		t.Errorf("up without the lock applied %+v, version %d", doc.Applied, doc.VersionAfter)
	}
}
