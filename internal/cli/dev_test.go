package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

func TestMain(m *testing.M) {
	testdb.Main(m)
}

// TestLocalDevDatabaseOnlyTouchesItsOwn checks the root fallback of `secretsdb dev`: it
// creates and marks its database, reuses it, drops it on reset, and refuses a database of
// the same name that it did not create.
func TestLocalDevDatabaseOnlyTouchesItsOwn(t *testing.T) {
	admin, err := pgx.ParseConfig(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	// localDevDatabase reads the libpq variables, as psql does.
	t.Setenv("PGHOST", admin.Host)
	t.Setenv("PGPORT", strconv.Itoa(int(admin.Port)))
	t.Setenv("PGUSER", admin.User)
	t.Setenv("PGPASSWORD", admin.Password)
	t.Setenv("PGDATABASE", admin.Database)
	t.Setenv("PGSSLMODE", "disable")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "secretsdb_devtest_" + hex.EncodeToString(b)
	t.Cleanup(func() { execIn(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })

	cfg, err := localDevDatabase(ctx, name, false)
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	if cfg.Database != name {
		t.Fatalf("database = %q, want %q", cfg.Database, name)
	}
	execIn(t, cfg, "CREATE TABLE kept (id int)")

	if _, err := localDevDatabase(ctx, name, false); err != nil {
		t.Fatalf("second use: %v", err)
	}
	if !tableExists(t, cfg, "kept") {
		t.Fatal("a second run without --reset lost the data")
	}

	if _, err := localDevDatabase(ctx, name, true); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if tableExists(t, cfg, "kept") {
		t.Fatal("--reset kept the data")
	}

	execIn(t, admin, "COMMENT ON DATABASE "+name+" IS NULL")
	execIn(t, cfg, "CREATE TABLE theirs (id int)")
	for _, reset := range []bool{false, true} {
		_, err := localDevDatabase(ctx, name, reset)
		if err == nil || !strings.Contains(err.Error(), "did not create it") {
			t.Fatalf("reset=%v on a database dev did not create: err = %v, want a refusal",
				reset, err)
		}
	}
	if !tableExists(t, cfg, "theirs") {
		t.Fatal("dev touched a database it did not create")
	}
}

func execIn(t *testing.T, cfg *pgx.ConnConfig, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func tableExists(t *testing.T, cfg *pgx.ConnConfig, table string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	err = conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
