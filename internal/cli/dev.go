package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/secretsdb/secretsdb/internal/devpg"
	"github.com/secretsdb/secretsdb/internal/session"
)

// devDatabase is the database `dev` creates, and may reset, on a server it did not start.
const devDatabase = "secretsdb_dev"

type devOptions struct {
	serve      serveOptions
	pgBinaries string
	dataDir    string
	reset      bool
}

func newDevCommand(g *globals) *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the API on a ready database, for a first look or local development",
		Long: `Run the API with everything it needs, in one command.

The database is, in this order: the one DATABASE_URL (or --database-url, or PGHOST, PGUSER,
...) names, when a server answers there; else an embedded PostgreSQL kept under the user's
cache folder (binaries downloaded once, or taken from --pg-binaries without any download);
else, when the embedded server cannot run (as root), a database named secretsdb_dev on the
server the libpq defaults reach (the local socket, as the OS user), which dev creates and
marks as its own: it never uses or resets a database of that name it did not create.
Migrations are applied, the API starts with a fresh dev session secret, and a ready curl
command that creates a secret is printed. Ctrl-C stops everything and keeps the data for
next time; --reset starts empty.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return dev(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.serve.addr, "addr", "localhost:8080", "address to listen on")
	f.StringVar(&o.serve.metricsAddr, "metrics-addr", "", metricsAddrUsage)
	f.StringVar(&o.pgBinaries, "pg-binaries", "",
		"PostgreSQL installation to run the embedded server from (a folder with bin/pg_ctl, "+
			"such as /usr/lib/postgresql/15); default: download once and cache")
	f.StringVar(&o.dataDir, "data-dir", "",
		"folder for the embedded server (default <user cache dir>/secretsdb/dev)")
	f.BoolVar(&o.reset, "reset", false, "start with an empty database")
	f.BoolVar(&o.serve.linkVerifiedEmail, "link-verified-email", false,
		"link a new session id to the user owning its verified email instead of answering 409")
	return cmd
}

func dev(ctx context.Context, g *globals, o devOptions) error {
	logger := g.logger.With("component", "dev")
	o.serve.migrate = true
	o.serve.acquireTimeout = 2 * time.Second
	o.serve.requestTimeout = 10 * time.Second
	o.serve.shutdownTimeout = 10 * time.Second

	conn, stop, err := devDatabaseConn(ctx, g, o)
	if err != nil {
		return err
	}
	defer func() {
		if err := stop(); err != nil {
			logger.Error("stopping the embedded server", "err", err)
		}
	}()

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	devSecret := base64.RawURLEncoding.EncodeToString(secret)
	cookieName := "authjs.session-token"
	token, err := session.Mint(session.Claims{
		UserID: "dev-user-1",
		Email:  "dev@example.com",
		Name:   "Dev User",
	}, devSecret, session.FormatV5, cookieName, 24*time.Hour, time.Now())
	if err != nil {
		return err
	}

	ready := make(chan string, 1)
	go func() {
		select {
		case addr := <-ready:
			printDevBanner(g.stdout, addr, cookieName, token, devSecret)
		case <-ctx.Done():
		}
	}()
	rt := serveRuntime{conn: conn, sessions: session.Config{Secrets: []string{devSecret}},
		ready: ready}
	return serve(ctx, g, o.serve, rt)
}

// devDatabaseConn picks the database as `dev`'s help describes, returning its connection
// settings and a function that stops whatever was started for it.
func devDatabaseConn(ctx context.Context, g *globals, o devOptions) (
	*pgx.ConnConfig, func() error, error) {
	noop := func() error { return nil }
	logger := g.logger.With("component", "dev")

	if g.databaseURL != "" || os.Getenv("DATABASE_URL") != "" || libpqEnvSet() {
		cfg, err := g.connConfig()
		if err != nil {
			return nil, nil, err
		}
		if err := ping(ctx, cfg); err == nil {
			if o.reset {
				return nil, nil, usageError{errors.New("--reset only empties the embedded " +
					"server or the secretsdb_dev database; drop your database yourself")}
			}
			logger.Info("using the configured server", "database", describe(cfg))
			return cfg, noop, nil
		}
		logger.Warn("the configured server does not answer; starting an embedded one",
			"database", describe(cfg))
	}

	srv, err := devpg.Start(ctx, devpg.Options{
		Dir:      o.dataDir,
		Binaries: o.pgBinaries,
		Reset:    o.reset,
	})
	if err == nil {
		logger.Info("embedded PostgreSQL started", "data", srv.DataDir)
		cfg, err := pgx.ParseConfig(srv.URL)
		if err != nil {
			_ = srv.Stop()
			return nil, nil, err
		}
		stop := func() error {
			if err := srv.Stop(); err != nil {
				return err
			}
			logger.Info("embedded PostgreSQL stopped; data kept", "data", srv.DataDir)
			return nil
		}
		return cfg, stop, nil
	}
	if !errors.Is(err, devpg.ErrRoot) {
		return nil, nil, err
	}

	// As root no embedded server can run; the local server libpq's defaults reach is the
	// next best thing, in a database of dev's own.
	cfg, lerr := localDevDatabase(ctx, devDatabase, o.reset)
	if lerr != nil {
		return nil, nil, fmt.Errorf("%w; the local server did not serve either: %w", err, lerr)
	}
	logger.Warn("embedded PostgreSQL cannot run as root; using the local server",
		"database", describe(cfg))
	return cfg, noop, nil
}

// localDevDatabase creates (or, with reset, recreates) the database name on the server the
// libpq defaults reach, and returns its settings.
func localDevDatabase(ctx context.Context, name string, reset bool) (*pgx.ConnConfig, error) {
	admin, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)

	// dev uses, and --reset drops, only a database it made itself: it marks the ones it
	// creates with devMarker, and refuses one of the same name made by anybody else.
	var comment *string
	err = conn.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_database') "+
		"FROM pg_database WHERE datname = $1", name).Scan(&comment)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	if exists && (comment == nil || *comment != devMarker) {
		return nil, fmt.Errorf("database %s exists on %s but secretsdb dev did not create it, "+
			"so dev leaves it alone; set DATABASE_URL to the database dev should use",
			name, describe(admin))
	}

	// Identifiers cannot be query parameters, so these statements are built here; the name
	// is a constant.
	ident := pgx.Identifier{name}.Sanitize()
	if exists && reset {
		if _, err := conn.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			return nil, err
		}
		exists = false
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
			return nil, err
		}
		stmt := "COMMENT ON DATABASE " + ident + " IS " + quoteLiteral(devMarker)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return nil, err
		}
	}
	cfg := admin.Copy()
	cfg.Database = name
	return cfg, nil
}

// devMarker is the comment on a database secretsdb dev created, and so may reset.
const devMarker = "created by secretsdb dev; secretsdb dev --reset drops and recreates it"

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func ping(ctx context.Context, cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func libpqEnvSet() bool {
	names := []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"}
	for _, name := range names {
		if os.Getenv(name) != "" {
			return true
		}
	}
	return false
}

func printDevBanner(w io.Writer, addr, cookieName, token, secret string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nsecretsdb dev is serving on http://%s\n", addr)
	fmt.Fprintf(&b, "dev session secret (AUTH_SECRET): %s\n\n", secret)
	fmt.Fprintf(&b, "Create a secret as dev@example.com:\n\n")
	fmt.Fprintf(&b, "curl -sS -i -X POST http://%s/api/secrets \\\n", addr)
	fmt.Fprintf(&b, "  -H 'Content-Type: application/json' \\\n")
	fmt.Fprintf(&b, "  -b '%s=%s' \\\n", cookieName, token)
	fmt.Fprintf(&b, "  -d '{\"title\": \"Letter\", \"recipient_name\": \"Sam\", "+
		"\"recipient_email\": \"sam@example.org\", \"server_share\": \"c2hhcmU=\"}'\n\n")
	fmt.Fprintf(&b, "Press Ctrl-C to stop; the data is kept for next time (--reset starts empty).\n")
	_, _ = io.WriteString(w, b.String())
}
