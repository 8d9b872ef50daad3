package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// TestMigrateVerifyNamesEditedAndMissingFiles edits an applied file, then removes another,
// and checks that verify exits 3 naming each, that up refuses to apply a new file over
// them, and that --allow-checksum-mismatch goes on.
func TestMigrateVerifyNamesEditedAndMissingFiles(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_gadgets.sql": simpleMigration("gadgets"),
		"00002_widgets.sql": simpleMigration("widgets"),
	})
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	if r := runMigrate(t, db.URL, "verify", "--dir", dir); r.code != 0 {
		t.Fatalf("verify of untouched files: want exit 0\n%s", r)
	}

	writeMigrations(t, dir, map[string]string{
		"00002_widgets.sql": simpleMigration("widgets") + "-- An edit after the fact.\n",
	})
	run := runMigrate(t, db.URL, "verify", "--dir", dir, "--json")

	if run.code != 3 {
		t.Fatalf("verify of an edited file: want exit 3\n%s", run)
	}
	doc := parseDoc(t, run)
	if len(doc.Mismatches) != 1 || doc.Mismatches[0].File != "00002_widgets.sql" ||
		doc.Mismatches[0].Problem != "edited" || doc.Error == nil ||
		doc.Error.Kind != "checksum_mismatch" {
		t.Fatalf("want one mismatch, 00002_widgets.sql edited\n%s", run)
	}
	human := runMigrate(t, db.URL, "verify", "--dir", dir)
	if human.code != 3 || !strings.Contains(human.stdout, "EDITED   00002_widgets.sql") {
		t.Errorf("verify's text does not name the edited file\n%s", human)
	}

	writeMigrations(t, dir, map[string]string{"00003_sprockets.sql": simpleMigration("sprockets")})
	refused := runMigrate(t, db.URL, "up", "--dir", dir, "--json")
	if refused.code != 3 {
		t.Fatalf("up over an edited file: want exit 3\n%s", refused)
	}
	if d := parseDoc(t, refused); d.VersionAfter != 2 || len(d.Applied) != 0 {
		t.Errorf("the refused up moved the database to version %d, applied %+v",
			d.VersionAfter, d.Applied)
	}
	if !strings.Contains(refused.stderr, "00002_widgets.sql") {
		t.Errorf("the refusal does not name the edited file:\n%s", refused.stderr)
	}

	allowed := parseDoc(t, runMigrate(t, db.URL, "up", "--dir", dir, "--json",
		"--allow-checksum-mismatch"))
	if !allowed.OK || len(allowed.Applied) != 1 || allowed.Applied[0].Version != 3 ||
		len(allowed.ChecksumMismatches) != 1 {
		t.Errorf("up --allow-checksum-mismatch: ok %v applied %+v mismatches %+v; want 3 "+
			"applied and the mismatch reported",
			allowed.OK, allowed.Applied, allowed.ChecksumMismatches)
	}

	if err := os.Remove(filepath.Join(dir, "00001_gadgets.sql")); err != nil {
		t.Fatal(err)
	}
	missing := runMigrate(t, db.URL, "verify", "--dir", dir, "--json")
	if missing.code != 3 {
		t.Fatalf("verify with a removed file: want exit 3\n%s", missing)
	}
	problems := map[string]string{}
	for _, m := range parseDoc(t, missing).Mismatches {
		problems[m.File] = m.Problem
	}
	if problems["00001_gadgets.sql"] != "missing" || problems["00002_widgets.sql"] != "edited" ||
		len(problems) != 2 {
		t.Errorf("mismatches %v, want 00001_gadgets.sql missing and 00002_widgets.sql edited",
			problems)
	}
}

// TestMigrateRecordsChecksumsOfOlderDatabases runs up on a database migrated before
// checksums were kept: it records them from the files, says so, and verify then checks
// them.
func TestMigrateRecordsChecksumsOfOlderDatabases(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)

	before := parseDoc(t, runMigrate(t, db.URL, "verify", "--json"))
	if !before.OK || before.Checked == 0 || len(before.Unrecorded) != before.Checked {
		t.Fatalf("verify before any checksum: ok %v, checked %d, unrecorded %d; "+
			"want all unrecorded", before.OK, before.Checked, len(before.Unrecorded))
	}

	run := runMigrate(t, db.URL, "up")

	if run.code != 0 {
		t.Fatalf("up: %s", run)
	}
	said := "recorded the checksums of " + strconv.Itoa(before.Checked) + " migrations"
	if !strings.Contains(run.stdout, said) {
		t.Errorf("up does not say it recorded %d checksums:\n%s", before.Checked, run.stdout)
	}
	after := parseDoc(t, runMigrate(t, db.URL, "verify", "--json"))
	if !after.OK || len(after.Unrecorded) != 0 || len(after.Mismatches) != 0 {
		t.Errorf("verify after up: ok %v, unrecorded %d, mismatches %d; "+
			"want all recorded and equal", after.OK, len(after.Unrecorded), len(after.Mismatches))
	}
	again := parseDoc(t, runMigrate(t, db.URL, "up", "--json"))
	if !again.NothingToDo || len(again.ChecksumsRecorded) != 0 {
		t.Errorf("second up: nothing_to_do %v, recorded %d; want nothing to do or record",
			again.NothingToDo, len(again.ChecksumsRecorded))
	}
}

// TestMigrateDownAndRedoKeepChecksums rolls back and reapplies a migration and checks that
// its checksum row goes and comes back with its version.
func TestMigrateDownAndRedoKeepChecksums(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_gadgets.sql": simpleMigration("gadgets"),
		"00002_widgets.sql": simpleMigration("widgets"),
	})
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 0 {
		t.Fatalf("up: %s", r)
	}

	redo := parseDoc(t, runMigrate(t, db.URL, "redo", "--dir", dir, "--json"))
	if !redo.OK || len(redo.Applied) != 2 || redo.Applied[0].Direction != "down" ||
		redo.Applied[1].Direction != "up" || redo.Applied[1].Version != 2 {
		t.Errorf("redo applied %+v, want version 2 down then up", redo.Applied)
	}
	requireAppliedOnce(t, db.Pool, 2)

	down := parseDoc(t, runMigrate(t, db.URL, "down", "--dir", dir, "--json"))
	if !down.OK || down.VersionAfter != 1 {
		t.Errorf("down: ok %v, version %d; want version 1", down.OK, down.VersionAfter)
	}
	requireAppliedOnce(t, db.Pool, 1)

	downTo := parseDoc(t, runMigrate(t, db.URL, "down-to", "0", "--dir", dir, "--json"))
	if !downTo.OK || downTo.VersionAfter != 0 {
		t.Errorf("down-to 0: ok %v, version %d; want 0", downTo.OK, downTo.VersionAfter)
	}
	nothing := runMigrate(t, db.URL, "down", "--dir", dir)
	if nothing.code != 0 || !strings.Contains(nothing.stdout, "nothing to roll back") {
		t.Errorf("down with nothing applied: want exit 0 and nothing to roll back\n%s", nothing)
	}
}

// TestMigrateReportsOneChecksumInTheSingular records, and then verifies, the checksum of
// a single migration: the reports must not speak of "1 migrations".
func TestMigrateReportsOneChecksumInTheSingular(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_gadgets.sql": simpleMigration("gadgets"),
	})
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	_, err := db.Pool.Exec(dbCtx(t), "DELETE FROM public.secretsdb_migration_checksums")
	if err != nil {
		t.Fatal(err)
	}

	run := runMigrate(t, db.URL, "up", "--dir", dir)
	verify := runMigrate(t, db.URL, "verify", "--dir", dir)

	const said = "recorded the checksum of 1 migration applied before checksums were kept:"
	if run.code != 0 || !strings.Contains(run.stdout, said) {
		t.Errorf("up does not say %q\n%s", said, run)
	}
	if verify.code != 0 || !strings.Contains(verify.stdout, "verified 1 applied migration:") {
		t.Errorf("verify does not speak of 1 applied migration\n%s", verify)
	}
	for _, r := range []migrateRun{run, verify} {
		if strings.Contains(r.stdout, "1 migrations") ||
			strings.Contains(r.stdout, "1 applied migrations") {
			t.Errorf("a report speaks of 1 migrations\n%s", r)
		}
	}
}
