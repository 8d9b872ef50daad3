// Package testdb gives each test a database of its own, migrated to the latest version, on
// a real PostgreSQL server: the one named by TEST_DATABASE_URL or DATABASE_URL when set,
// else a throwaway container started with testcontainers.
//
// The migrations run once per test binary, into a template database; every test then gets
// a CREATE DATABASE ... TEMPLATE copy, which takes milliseconds. Everything created here
// (template, test databases, login roles) is dropped again; nothing else is touched.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/migrations"
)

// setupTimeout bounds every administrative statement, so a stuck server fails the test
// instead of hanging it.
const setupTimeout = 2 * time.Minute

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
	container  testcontainers.Container

	templateOnce sync.Once
	templateName string
	templateErr  error
)

// Main runs the tests of a package, then the package's own cleanups (for files made once
// for all its tests), then drops what testdb created at process level: the template
// database and any container. Call it from TestMain.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	teardown()
	os.Exit(code)
}

func teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	if templateName != "" {
		if err := dropDatabase(ctx, templateName); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: dropping template %s: %v\n", templateName, err)
		}
	}
	if container != nil {
		if err := container.Terminate(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: stopping container: %v\n", err)
		}
	}
}

// ServerURL returns the URL of the server tests run against, starting a container when no
// URL is configured. It skips nothing: without a server the test fails.
func ServerURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		for _, name := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
			if v := os.Getenv(name); v != "" {
				serverURL = v
				return
			}
		}
		serverURL, serverErr = startContainer()
	})
	if serverErr != nil {
		t.Fatalf("no test database server: %v", serverErr)
	}
	return serverURL
}

func startContainer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	c, err := tcpostgres.Run(ctx, "postgres:15-alpine",
		tcpostgres.WithDatabase("postgres"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	if err != nil {
		return "", fmt.Errorf("set TEST_DATABASE_URL, or run Docker for testcontainers: %w", err)
	}
	container = c
	return c.ConnectionString(ctx, "sslmode=disable")
}

// DB is one test's database.
type DB struct {
	// Name is the database's name on the server.
	Name string
	// URL connects to it as the server URL's user.
	URL string
	// Pool is a pgx pool on URL, closed when the test ends.
	Pool *pgxpool.Pool
}

// New creates a migrated database for t and drops it when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	tmpl := template(t)
	return create(t, "TEMPLATE "+pgx.Identifier{tmpl}.Sanitize())
}

// NewEmpty creates an empty database for t, for tests of the migrations themselves.
func NewEmpty(t testing.TB) *DB {
	t.Helper()
	ServerURL(t)
	return create(t, "")
}

func create(t testing.TB, clause string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	name := "secretsdb_test_" + randomSuffix()
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " " + clause
	if err := adminExec(ctx, stmt); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := dropDatabase(ctx, name); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})

	dsn := withDatabase(t, ServerURL(t), name)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return &DB{Name: name, URL: dsn, Pool: pool}
}

// URLAs returns the URL of db for another login role.
func (db *DB) URLAs(t testing.TB, role string) string {
	t.Helper()
	return withParam(t, db.URL, "user", role)
}

// NewLoginRole creates a LOGIN role that is a member of the given roles and drops it when
// t ends. Roles are server-wide, so the name is random.
func NewLoginRole(t testing.TB, memberOf ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	name := "secretsdb_test_role_" + randomSuffix()
	stmt := "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN"
	if len(memberOf) > 0 {
		quoted := make([]string, len(memberOf))
		for i, r := range memberOf {
			quoted[i] = pgx.Identifier{r}.Sanitize()
		}
		stmt += " IN ROLE " + strings.Join(quoted, ", ")
	}
	if err := adminExec(ctx, stmt); err != nil {
		t.Fatalf("creating role: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := adminExec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Errorf("dropping role %s: %v", name, err)
		}
	})
	return name
}

func template(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	templateOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()

		name := "secretsdb_template_" + randomSuffix()
		if err := adminExec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			templateErr = fmt.Errorf("creating template: %w", err)
			return
		}
		templateName = name
		templateErr = migrateDatabase(ctx, withDatabase(t, server, name))
	})
	if templateErr != nil {
		t.Fatalf("preparing migrated template: %v", templateErr)
	}
	return templateName
}

func migrateDatabase(ctx context.Context, dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	p, err := migrate.NewProvider(db, migrations.FS, nil)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	return p.Close()
}

func adminExec(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

func dropDatabase(ctx context.Context, name string) error {
	return adminExec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func withDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	return withParam(t, dsn, "dbname", name)
}

// withParam sets one connection parameter in a URL or keyword/value DSN.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " " + key + "='" + strings.ReplaceAll(value, "'", `\'`) + "'"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parsing database URL: %v", err)
	}
	switch key {
	case "dbname":
		u.Path = "/" + value
	case "user":
		u.User = url.User(value)
	}
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
