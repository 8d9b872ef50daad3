package tests

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// TestMigrateNeverPrintsThePassword runs migrate with a password in every place a database
// can be named, on success and on each kind of failure, and checks that the password shows
// nowhere in stdout or stderr, debug logs included.
func TestMigrateNeverPrintsThePassword(t *testing.T) {
	t.Parallel()
	const password = "Pw-9f3b1c-never-printed"
	db := testdb.NewEmpty(t)
	failing := testdb.NewEmpty(t)
	withPassword := func(rawURL, host string) string {
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), password)
		if host != "" {
			u.Host = host
		}
		return u.String()
	}
	good := withPassword(db.URL, "")
	unreachable := withPassword(db.URL, "127.0.0.1:1")
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeMigrations(t, t.TempDir(), map[string]string{"00001_widgets.sql": failingOnLine12})

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"Up", nil, []string{"up", "--log-level", "debug", "--database-url", good}, 0},
		{"StatusJSONLogs", nil, []string{"status", "--json", "--log-format", "json",
			"--log-level", "debug", "--database-url", good}, 0},
		{"FailingMigration", nil, []string{"up", "--dir", dir, "--json", "--log-level", "debug",
			"--database-url", withPassword(failing.URL, "")}, 1},
		{"Unreachable", nil, []string{"status", "--json", "--database-url", unreachable}, 1},
		{"Unparsable", nil, []string{"status", "--json",
			"--database-url", "postgres://postgres:" + password + "@127.0.0.1:notaport/x"}, 2},
		{"KeywordDSN", nil, []string{"verify", "--database-url",
			"host=127.0.0.1 port=1 user=postgres password=" + password + " dbname=x"}, 1},
		{"DatabaseURLVariable", []string{"DATABASE_URL=" + unreachable}, []string{"version"}, 1},
		{"LibpqVariables", []string{
			"PGHOST=" + cfg.Host, "PGPORT=" + strconv.Itoa(int(cfg.Port)), "PGUSER=" + cfg.User,
			"PGDATABASE=" + cfg.Database, "PGPASSWORD=" + password, "PGSSLMODE=disable",
		}, []string{"version", "--json", "--log-level", "debug"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := runMigrateEnv(t, migrateEnv(tc.env...), tc.args...)

			if run.code != tc.code {
				t.Errorf("exit %d, want %d\n%s", run.code, tc.code, run)
			}
			if strings.Contains(run.stdout+run.stderr, password) {
				t.Errorf("the password was printed:\n%s", run)
			}
		})
	}
}

// TestMigrateIgnoresTheRolesSearchPath migrates as a role whose search_path puts another
// schema first, as a per-role default or a schema named after the role does, and checks
// that every object lands in public, unqualified names included.
func TestMigrateIgnoresTheRolesSearchPath(t *testing.T) {
	t.Parallel()
	role := testdb.NewLoginRole(t)
	local := testdb.NewEmpty(t)
	embedded := testdb.NewEmpty(t)
	for _, db := range []*testdb.DB{local, embedded} {
		for _, stmt := range []string{
			"ALTER DATABASE " + pgx.Identifier{db.Name}.Sanitize() + " OWNER TO " +
				pgx.Identifier{role}.Sanitize(),
			"CREATE SCHEMA elsewhere AUTHORIZATION " + pgx.Identifier{role}.Sanitize(),
			"ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " IN DATABASE " +
				pgx.Identifier{db.Name}.Sanitize() + " SET search_path = elsewhere, public",
		} {
			if _, err := db.Pool.Exec(dbCtx(t), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	ensureAppRole(t, embedded)
	var shown string
	conn, err := pgx.Connect(dbCtx(t), local.URLAs(t, role))
	if err != nil {
		t.Fatal(err)
	}
	err = conn.QueryRow(dbCtx(t), "SHOW search_path").Scan(&shown)
	conn.Close(context.Background())
	if err != nil || !strings.HasPrefix(shown, "elsewhere") {
		t.Fatalf("the role's search_path is %q (%v), want elsewhere first", shown, err)
	}

	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_unqualified.sql": "-- Names without a schema.\n\n-- +goose Up\n" +
			"CREATE TABLE widgets (\n    id integer NOT NULL\n);\n\n" +
			"-- +goose Down\nDROP TABLE widgets;\n",
	})
	for _, tc := range []struct {
		name string
		db   *testdb.DB
		args []string
	}{
		{"UnqualifiedNames", local, []string{"--dir", dir}},
		{"EmbeddedMigrations", embedded, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.db.URLAs(t, role)
			if r := runMigrate(t, url, append([]string{"up"}, tc.args...)...); r.code != 0 {
				t.Fatalf("up as a role with another search_path: %s", r)
			}
			if r := runMigrate(t, url, append([]string{"verify"}, tc.args...)...); r.code != 0 {
				t.Errorf("verify: %s", r)
			}

			var elsewhere, public int
			err := tc.db.Pool.QueryRow(dbCtx(t), `
				SELECT
					count(*) FILTER (WHERE n.nspname = 'elsewhere'),
					count(*) FILTER (WHERE n.nspname = 'public' AND c.relname IN
						('widgets', 'users', 'goose_db_version', 'secretsdb_migration_checksums'))
				FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE c.relkind = 'r'`).Scan(&elsewhere, &public)
			if err != nil {
				t.Fatal(err)
			}
			if elsewhere != 0 || public != 3 {
				t.Errorf("%d tables in elsewhere, %d of the expected ones in public; want 0 and 3",
					elsewhere, public)
			}
		})
	}
}

// ensureAppRole creates secretsdb_app as the first migration would, so a test role
// without CREATEROLE can run the embedded migrations. Like the migrations, it leaves the
// cluster-wide role in place.
func ensureAppRole(t *testing.T, db *testdb.DB) {
	t.Helper()
	_, err := db.Pool.Exec(dbCtx(t), `
		DO $$
		BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'secretsdb_app') THEN
				CREATE ROLE secretsdb_app NOLOGIN;
			END IF;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;
		END
		$$`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateCreate writes the next numbered file into --dir and into ./migrations by
// default, and checks the skeleton passes the lint and applies.
func TestMigrateCreate(t *testing.T) {
	t.Parallel()
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00003_gadgets.sql": simpleMigration("gadgets"),
	})

	run := runMigrateEnv(t, migrateEnv(), "create", "Add Widgets!", "--dir", dir, "--json")

	doc := parseDoc(t, run)
	want := filepath.Join(dir, "00004_add_widgets.sql")
	if !doc.OK || doc.File != want || doc.Version != 4 {
		t.Fatalf("create: ok %v file %q version %d, want %s version 4\n%s",
			doc.OK, doc.File, doc.Version, want, run)
	}
	body, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"-- +goose Up", "-- +goose StatementBegin",
		"-- +goose StatementEnd", "-- +goose Down"} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("the new file lacks %q:\n%s", line, body)
		}
	}
	if r := runMigrateEnv(t, migrateEnv(), "lint", "--dir", dir); r.code != 0 {
		t.Errorf("lint of the new file: %s", r)
	}
	db := testdb.NewEmpty(t)
	up := parseDoc(t, runMigrate(t, db.URL, "up", "--dir", dir, "--json"))
	if len(up.Applied) != 2 {
		t.Errorf("up of the new file applied %+v, want 3 and 4", up.Applied)
	}

	bad := runMigrateEnv(t, migrateEnv(), "create", "!!!", "--dir", dir, "--json")
	if d := parseDoc(t, bad); bad.code != 2 || d.Error == nil || d.Error.Kind != "usage" {
		t.Errorf("create with a name of no letters: want exit 2 and a usage error\n%s", bad)
	}

	cwd := t.TempDir()
	writeMigrations(t, filepath.Join(cwd, "migrations"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, secretsdbBinary(t), "migrate", "create", "first")
	cmd.Dir, cmd.Env = cwd, migrateEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create without --dir: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(cwd, "migrations", "00001_first.sql")); err != nil {
		t.Errorf("create without --dir did not write ./migrations/00001_first.sql: %v", err)
	}
}

// TestMigrateLint runs the lint over the embedded migrations, which must pass, and over a
// folder with one mistake of each kind.
func TestMigrateLint(t *testing.T) {
	t.Parallel()
	if r := runMigrateEnv(t, migrateEnv(), "lint"); r.code != 0 {
		t.Fatalf("lint of the embedded migrations: %s", r)
	}
	dir := writeMigrations(t, t.TempDir(), map[string]string{
		"00001_mistakes.sql": `-- One mistake of each kind.

-- +goose Up
CREATE TABLE public.widgets (id integer);
CREATE INDEX widgets_id_idx ON public.widgets (id);
CREATE INDEX users_email_idx ON public.users (email);
CREATE FUNCTION public.one() RETURNS integer LANGUAGE sql AS $$ SELECT 1; $$;
SELECT '$$ in a string is text';
-- +goose StatementBegin
CREATE FUNCTION public.two() RETURNS integer LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN 2; END $$;
-- +goose StatementEnd
CREATE INDEX CONCURRENTLY users_name_idx ON public.users (name);

-- +goose Down
DROP TABLE public.widgets;
`,
		"00002_concurrent.sql": "-- Indexes accounts without blocking writes.\n" +
			"-- +goose NO TRANSACTION\n\n-- +goose Up\n" +
			"CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_x_idx\n" +
			"    ON public.accounts (user_id);\n\n" +
			"-- +goose Down\nDROP INDEX CONCURRENTLY IF EXISTS public.accounts_x_idx;\n",
	})

	run := runMigrateEnv(t, migrateEnv(), "lint", "--dir", dir, "--json")

	if run.code != 1 {
		t.Fatalf("lint of bad files: want exit 1\n%s", run)
	}
	got := map[string]bool{}
	for _, p := range parseDoc(t, run).Problems {
		got[p.File+":"+strconv.Itoa(p.Line)+" "+p.Rule] = true
	}
	want := map[string]bool{
		"00001_mistakes.sql:6 index-not-concurrent":         true,
		"00001_mistakes.sql:7 dollar-quote-outside-block":   true,
		"00001_mistakes.sql:7 routine-search-path":          true,
		"00001_mistakes.sql:14 concurrently-in-transaction": true,
	}
	for k := range want {
		if !got[k] {
			t.Errorf("lint missed %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("lint reported %s, which is not a problem", k)
		}
	}
}

// TestMigrateUsageErrors checks that mistakes on the command line exit 2.
func TestMigrateUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"frobnicate"},
		{"up", "--no-such-flag"},
		{"up-to", "abc", "--json"},
		{"up-to"},
		{"down-to", "-1"},
		{"status", "extra"},
		{"up", "--lock-timeout", "0s", "--database-url", "postgres://127.0.0.1:1/x"},
		{"up", "--dir", "/no/such/folder", "--database-url", "postgres://127.0.0.1:1/x"},
	} {
		run := runMigrateEnv(t, migrateEnv(), args...)
		if run.code != 2 {
			t.Errorf("%v: want exit 2\n%s", args, run)
		}
	}
	if d := parseDoc(t, runMigrateEnv(t, migrateEnv(), "up-to", "abc", "--json")); d.Error == nil ||
		d.Error.Kind != "usage" {
		t.Errorf("up-to abc --json: want a usage error in the document, got %+v", d.Error)
	}
}
