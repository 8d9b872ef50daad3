package tests

import (
	"strings"
	"testing"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// TestMigrateOutOfOrderFile applies 1, 2 and 4, then adds 3, as a merged branch does
// (failure case C16): up fails naming version 3 and applies nothing, status lists 3 as pending
// out of order, and --allow-missing applies it.
func TestMigrateOutOfOrderFile(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_gadgets.sql":   simpleMigration("gadgets"),
		"00002_widgets.sql":   simpleMigration("widgets"),
		"00004_sprockets.sql": simpleMigration("sprockets"),
	})
	if r := runMigrate(t, db.URL, "up", "--dir", dir); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	writeMigrations(t, dir, map[string]string{"00003_branch.sql": simpleMigration("branch")})

	run := runMigrate(t, db.URL, "up", "--dir", dir, "--json")

	if run.code != 1 {
		t.Fatalf("up with an out-of-order file: want exit 1\n%s", run)
	}
	doc := parseDoc(t, run)
	if doc.Error == nil || doc.Error.Kind != "out_of_order" || len(doc.Error.OutOfOrder) != 1 ||
		doc.Error.OutOfOrder[0].Version != 3 || doc.Error.OutOfOrder[0].File != "00003_branch.sql" {
		t.Fatalf("want an out_of_order error naming 00003_branch.sql\n%s", run)
	}
	if !strings.Contains(run.stderr, "version 3 (00003_branch.sql)") {
		t.Errorf("stderr does not name version 3:\n%s", run.stderr)
	}
	if len(doc.Applied) != 0 || doc.VersionAfter != 4 {
		t.Errorf("the refused up applied %+v, version %d", doc.Applied, doc.VersionAfter)
	}
	for _, args := range [][]string{{"up-by-one"}, {"up-to", "4"}} {
		r := runMigrate(t, db.URL, append(args, "--dir", dir)...)
		if r.code != 1 || !strings.Contains(r.stderr, "00003_branch.sql") {
			t.Errorf("%v with an out-of-order file: want exit 1 naming it\n%s", args, r)
		}
	}

	status := parseDoc(t, runMigrate(t, db.URL, "status", "--dir", dir, "--json"))
	var three bool
	for _, m := range status.Migrations {
		if m.Version == 3 {
			three = m.State == "pending" && m.OutOfOrder
		}
	}
	if !three || status.Pending != 1 {
		t.Errorf("status does not list version 3 as pending out of order: %+v", status.Migrations)
	}

	allowed := parseDoc(t, runMigrate(t, db.URL, "up", "--dir", dir, "--json", "--allow-missing"))
	if !allowed.OK || len(allowed.Applied) != 1 || allowed.Applied[0].Version != 3 {
		t.Errorf("up --allow-missing: ok %v, applied %+v; want version 3",
			allowed.OK, allowed.Applied)
	}
	if v := parseDoc(t, runMigrate(t, db.URL, "version", "--dir", dir, "--json")); v.Pending != 0 ||
		v.Version != 4 {
		t.Errorf("version after --allow-missing: %d with %d pending, want 4 with none",
			v.Version, v.Pending)
	}
}
