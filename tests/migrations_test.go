package tests

import (
	"bufio"
	"context"
	"database/sql"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/internal/testdb"
	"github.com/secretsdb/secretsdb/migrations"
)

// TestMigrationsRoundTrip applies every migration, takes them all down to zero, and applies
// them again one at a time, so each Down section is exercised and leaves a clean slate.
func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	db := testdb.NewEmpty(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sqlDB, err := sql.Open("pgx", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	p, err := migrate.NewProvider(sqlDB, migrations.FS, nil)
	if err != nil {
		t.Fatal(err)
	}

	up, err := p.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	sources := p.ListSources()
	if len(up) != len(sources) {
		t.Fatalf("up applied %d migrations, want %d", len(up), len(sources))
	}
	if n := countObjects(t, sqlDB); n == 0 {
		t.Fatal("up created no tables or routines")
	}

	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if n := countObjects(t, sqlDB); n != 0 {
		t.Fatalf("down to 0 left %d tables, types or routines in public", n)
	}

	for i := range sources {
		res, err := p.UpByOne(ctx)
		if err != nil {
			t.Fatalf("up-by-one step %d: %v", i+1, err)
		}
		if res.Source.Version != sources[i].Version {
			t.Fatalf("step %d applied version %d, want %d", i+1, res.Source.Version, sources[i].Version)
		}
	}
	version, err := p.GetDBVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := sources[len(sources)-1].Version; version != want {
		t.Fatalf("version after up-by-one = %d, want %d", version, want)
	}
}

// countObjects counts secretsdb's objects in public: tables other than goose's, types made
// by CREATE TYPE, and routines.
func countObjects(t *testing.T, db *sql.DB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var n int
	err := db.QueryRowContext(ctx, `
		SELECT
			(SELECT count(*) FROM pg_tables
				WHERE schemaname = 'public' AND tablename <> 'goose_db_version')
			+ (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
				WHERE n.nspname = 'public' AND t.typtype = 'e')
			+ (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
				WHERE n.nspname = 'public')`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dollarQuote matches $$ and tagged quotes such as $body$.
var dollarQuote = regexp.MustCompile(`\$([A-Za-z_][A-Za-z_0-9]*)?\$`)

// TestMigrationsWrapDollarQuotes guards goose's statement splitter: a dollar-quoted body
// outside StatementBegin/StatementEnd would be cut at its first semicolon.
func TestMigrationsWrapDollarQuotes(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no migration files embedded")
	}

	for _, name := range files {
		data, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		inBlock := false
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(text, "-- +goose StatementBegin"):
				inBlock = true
			case strings.HasPrefix(text, "-- +goose StatementEnd"):
				inBlock = false
			case strings.HasPrefix(text, "--"):
			case dollarQuote.MatchString(text) && !inBlock:
				t.Errorf("%s:%d: dollar quote outside -- +goose StatementBegin/StatementEnd",
					name, line)
			}
		}
	}
}
