package tests

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretsdb/secretsdb/internal/testdb"
	"github.com/secretsdb/secretsdb/migrations"
)

// TestMigrateOlderBinaryOnNewerDatabase migrates a database with a newer release's
// migrations (the embedded ones and one more), then runs this binary on it, as a rollback
// of the binary does: migrate up and serve --migrate refuse, saying the database has a
// version this binary does not know, and plain serve starts with a warning.
func TestMigrateOlderBinaryOnNewerDatabase(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	latest := latestVersion(t)
	newer := latest + 1
	dir := embeddedCopy(t)
	newerFile := fmt.Sprintf("%05d_newer_release.sql", newer)
	writeMigrations(t, dir, map[string]string{newerFile: simpleMigration("from_newer_release")})
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 0 {
		t.Fatalf("up with the newer release's migrations: %s", r)
	}
	said := fmt.Sprintf("the database has version %d which this binary does not know; "+
		"it was migrated by a newer release", newer)

	t.Run("MigrateUp", func(t *testing.T) {
		run := runMigrate(t, db.URL, "up", "--json")

		doc := parseDoc(t, run)
		if run.code != 3 || doc.Error == nil || !strings.Contains(doc.Error.Message, said) ||
			!strings.Contains(run.stderr, said) {
			t.Fatalf("up: want exit 3 saying %q\n%s", said, run)
		}
		if len(doc.Error.Mismatches) != 1 || !doc.Error.Mismatches[0].NewerRelease ||
			doc.Error.Mismatches[0].File != newerFile {
			t.Errorf("mismatches %+v, want %s from a newer release", doc.Error.Mismatches,
				newerFile)
		}
		downTo := fmt.Sprintf("migrate down-to %d", latest)
		if !strings.Contains(doc.Error.Hint, downTo) {
			t.Errorf("the hint does not name %q: %s", downTo, doc.Error.Hint)
		}
		human := runMigrate(t, db.URL, "verify")
		if human.code != 3 || !strings.Contains(human.stdout, "applied by a newer release") {
			t.Errorf("verify does not say a newer release applied %s\n%s", newerFile, human)
		}
	})

	t.Run("ServeMigrate", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, secretsdbBinary(t), "serve", "--migrate",
			"--addr", "127.0.0.1:0", "--database-url", db.URL)
		cmd.Env = serverEnv("AUTH_SECRET=" + apiSecret)

		out, err := cmd.CombinedOutput()

		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 ||
			!strings.Contains(string(out), said) {
			t.Errorf("serve --migrate: %v, want exit 3 saying %q\n%s", err, said, out)
		}
	})

	t.Run("ServeWithoutMigrate", func(t *testing.T) {
		p := startServe(t, secretsdbBinary(t), db, "--database-url", db.URL)

		requireFields(t, p.listening, map[string]any{
			"schema_version": newer, "schema_latest": latest, "migration_state": "ahead",
		})
		p.logLine(t, "the database schema is ahead of this binary; a newer release migrated it")
		req, err := http.NewRequestWithContext(dbCtx(t), http.MethodGet,
			p.api.BaseURL+"/readyz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := p.api.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/readyz on a newer schema = %d, want 200", resp.StatusCode)
		}
		p.stop(t)
	})
}

// embeddedCopy writes the embedded migrations into a new folder and returns it.
func embeddedCopy(t *testing.T) string {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range names {
		data, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMigrateRemovedFileRecovery removes an applied migration's file on purpose and
// follows the hint: deleting the checksum row alone does not help, the statements the
// hint gives (version row and checksum, together) do, and verify then passes.
func TestMigrateRemovedFileRecovery(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_gadgets.sql":   simpleMigration("gadgets"),
		"00002_widgets.sql":   simpleMigration("widgets"),
		"00003_sprockets.sql": simpleMigration("sprockets"),
	})
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	if err := os.Remove(filepath.Join(dir, "00002_widgets.sql")); err != nil {
		t.Fatal(err)
	}

	run := runMigrate(t, db.URL, "up", "--dir", dir, "--json")

	doc := parseDoc(t, run)
	const forget = "BEGIN; DELETE FROM public.goose_db_version WHERE version_id = 2; " +
		"DELETE FROM public.secretsdb_migration_checksums WHERE version = 2; COMMIT;"
	if run.code != 3 || doc.Error == nil || !strings.Contains(doc.Error.Hint, forget) ||
		!strings.Contains(doc.Error.Hint, "restore the missing file") {
		t.Fatalf("up with a removed file: want exit 3 and a hint to restore it or run %q\n%s",
			forget, run)
	}

	_, err := db.Pool.Exec(dbCtx(t),
		"DELETE FROM public.secretsdb_migration_checksums WHERE version = 2")
	if err != nil {
		t.Fatal(err)
	}
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 3 {
		t.Fatalf("deleting the checksum row alone: want up still refused\n%s", r)
	}
	if _, err := db.Pool.Exec(dbCtx(t), forget); err != nil {
		t.Fatalf("the hint's statements: %v", err)
	}
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 0 {
		t.Errorf("up after the hint's statements: want exit 0\n%s", r)
	}
	if r := runMigrate(t, db.URL, "verify", "--dir", dir); r.code != 0 {
		t.Errorf("verify after the hint's statements: want exit 0\n%s", r)
	}
}
