package tests

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// TestMigrateTargetMustBeAFileVersion checks that up-to and down-to refuse a version no
// migration file carries, as a usage error naming it and the known ones, instead of
// applying or rolling back everything and exiting 0.
func TestMigrateTargetMustBeAFileVersion(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	latest := latestVersion(t)
	known := "1-" + strconv.FormatInt(latest, 10)

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"UpToBeyondTheFiles", []string{"up-to", "99"}},
		{"DownToBeyondTheFiles", []string{"down-to", "99"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := runMigrate(t, db.URL, append(tc.args, "--json")...)

			doc := parseDoc(t, run)
			if run.code != 2 || doc.Error == nil || doc.Error.Kind != "usage" {
				t.Fatalf("%v: want exit 2 and a usage error\n%s", tc.args, run)
			}
			for _, want := range []string{"version 99", "known versions are " + known} {
				if !strings.Contains(doc.Error.Message, want) ||
					!strings.Contains(run.stderr, want) {
					t.Errorf("%v: the error does not say %q\n%s", tc.args, want, run)
				}
			}
			if doc.Applied == nil || len(doc.Applied) != 0 {
				t.Errorf("%v: applied %v, want []", tc.args, doc.Applied)
			}
		})
	}

	if v := parseDoc(t, runMigrate(t, db.URL, "version", "--json")); v.Version != 0 {
		t.Fatalf("the refused commands moved the database to version %d", v.Version)
	}
	if r := runMigrate(t, db.URL, "up-to", "2"); r.code != 0 {
		t.Fatalf("up-to 2: %s", r)
	}
	down := parseDoc(t, runMigrate(t, db.URL, "down-to", "0", "--json"))
	if !down.OK || down.VersionAfter != 0 || len(down.Applied) != 2 {
		t.Errorf("down-to 0: ok %v, version %d, applied %+v; want both rolled back",
			down.OK, down.VersionAfter, down.Applied)
	}
}

// TestMigrateUsageErrorsPrintJSON checks that with --json a usage error found before the
// command runs (an unknown command, a bad flag before or after --json, a bad log level) still
// prints one document, shaped like the command's success: lists empty, not null.
func TestMigrateUsageErrorsPrintJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		command string
		list    string // a list field that must be [] rather than null
	}{
		{"UnknownCommand", []string{"bogus", "--json"}, "migrate", ""},
		{"UnknownFlag", []string{"up", "--json", "--no-such-flag"}, "up", `"applied": []`},
		{"UnknownFlagBeforeJSON", []string{"up", "--no-such-flag", "--json"}, "up",
			`"applied": []`},
		{"BadFlagValue", []string{"status", "--json", "--lock-timeout", "soon"}, "status",
			`"migrations": []`},
		{"BadLogLevel", []string{"verify", "--json", "--log-level", "loud"}, "verify",
			`"mismatches": []`},
		{"BadVersion", []string{"up-to", "abc", "--json"}, "up-to", `"checksums_recorded": []`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			run := runMigrateEnv(t, migrateEnv(), tc.args...)

			doc := parseDoc(t, run)
			if run.code != 2 || doc.OK || doc.Error == nil || doc.Error.Kind != "usage" ||
				doc.Command != tc.command {
				t.Fatalf("%v: want exit 2 and a usage document for %q\n%s",
					tc.args, tc.command, run)
			}
			if tc.list != "" && !strings.Contains(run.stdout, tc.list) {
				t.Errorf("%v: the document lacks %s\n%s", tc.args, tc.list, run)
			}
		})
	}
}

// TestMigrateUnparsableLibpqSettings gives no URL and a bad PGSSLMODE: the error must
// blame the PG* variables, not a URL nobody gave, and still print no value.
func TestMigrateUnparsableLibpqSettings(t *testing.T) {
	t.Parallel()
	const password = "Pw-4e1d-libpq-never-printed"

	run := runMigrateEnv(t, migrateEnv("PGHOST=127.0.0.1", "PGSSLMODE=bogus",
		"PGPASSWORD="+password), "status")

	if run.code != 2 {
		t.Fatalf("status with PGSSLMODE=bogus: want exit 2\n%s", run)
	}
	want := "the connection settings cannot be parsed (from PG* environment variables: " +
		"PGHOST, PGPASSWORD, PGSSLMODE)"
	if !strings.Contains(run.stderr, want) || strings.Contains(run.stderr, "URL") {
		t.Errorf("stderr does not say %q, or blames a URL\n%s", want, run)
	}
	if strings.Contains(run.stdout+run.stderr, password) {
		t.Errorf("the password was printed\n%s", run)
	}
}

// TestMigrateCreateNeedsAFolder checks that create refuses, as a usage error naming
// --dir, to run where there is no migrations folder, creating nothing, and that an empty
// --dir is refused by every command instead of meaning the embedded migrations.
func TestMigrateCreateNeedsAFolder(t *testing.T) {
	t.Parallel()
	cwd := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	cmd, stdout, stderr := migrateCmd(ctx, t, migrateEnv(), "create", "first", "--json")
	cmd.Dir = cwd
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	run := waitRun(t, cmd, stdout, stderr)

	doc := parseDoc(t, run)
	if run.code != 2 || doc.Error == nil || doc.Error.Kind != "usage" ||
		!strings.Contains(doc.Error.Message, "--dir") {
		t.Fatalf("create without ./migrations: want exit 2 naming --dir\n%s", run)
	}
	if _, err := os.Stat(filepath.Join(cwd, "migrations")); err == nil {
		t.Error("create made a migrations folder in the wrong place")
	}

	for _, args := range [][]string{
		{"create", "first", "--dir", ""},
		{"lint", "--dir="},
		{"up", "--dir", "", "--database-url", "postgres://127.0.0.1:1/x"},
	} {
		r := runMigrateEnv(t, migrateEnv(), args...)
		if r.code != 2 || !strings.Contains(r.stderr, "--dir must name a folder of migrations, "+
			"got an empty value") {
			t.Errorf("%q: want exit 2 refusing the empty --dir\n%s", args, r)
		}
	}
}
