// Command scratchdb runs a command against a freshly migrated scratch database and drops
// the database afterwards. `make generate` uses it to give sqlc's database-backed analyzer
// a schema to type queries against:
//
//	go run ./internal/devtools/scratchdb -- go tool -modfile=tools/go.mod sqlc generate
//
// The server comes from $TEST_DATABASE_URL, else $DATABASE_URL, else the libpq variables.
// The command sees the scratch database's URL in $SQLC_DATABASE_URL.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/migrations"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "scratchdb: %v\n", err)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("usage: scratchdb -- COMMAND [ARG...]")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		dsn = os.Getenv("DATABASE_URL")
	}
	admin, err := pgx.ParseConfig(dsn)
	if err != nil {
		return errors.New("the database URL cannot be parsed (not shown: it may hold a password)")
	}

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "secretsdb_scratch_" + hex.EncodeToString(b)
	if err := exec1(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	defer func() {
		stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
		if err := exec1(context.Background(), admin, stmt); err != nil {
			fmt.Fprintf(os.Stderr, "scratchdb: dropping %s: %v\n", name, err)
		}
	}()

	scratch := admin.Copy()
	scratch.Database = name
	if err := migrateUp(ctx, scratch); err != nil {
		return fmt.Errorf("migrating %s: %w", name, err)
	}

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "SQLC_DATABASE_URL="+connURL(scratch))
	return cmd.Run()
}

func exec1(ctx context.Context, cfg *pgx.ConnConfig, stmt string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

func migrateUp(ctx context.Context, cfg *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := migrate.NewProvider(db, migrations.FS, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	_, err = p.Up(ctx)
	return err
}

// connURL renders cfg as a postgres:// URL for sqlc, which takes no keyword/value DSN.
func connURL(cfg *pgx.ConnConfig) string {
	u := url.URL{Scheme: "postgres", Path: "/" + cfg.Database}
	u.User = url.User(cfg.User)
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		u.Host = ""
		u.RawQuery = url.Values{"host": {cfg.Host}, "port": {strconv.Itoa(int(cfg.Port))}}.Encode()
	} else {
		u.Host = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	}
	if cfg.TLSConfig == nil {
		u.RawQuery += "&sslmode=disable"
		u.RawQuery = strings.TrimPrefix(u.RawQuery, "&")
	}
	return u.String()
}
