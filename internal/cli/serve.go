package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/secretsdb/secretsdb/internal/httpapi"
	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
	"github.com/secretsdb/secretsdb/migrations"
)

// serveOptions are `secretsdb serve`'s flags.
type serveOptions struct {
	addr              string
	migrate           bool
	linkVerifiedEmail bool
	poolMaxConns      int32
	acquireTimeout    time.Duration
	requestTimeout    time.Duration
	shutdownTimeout   time.Duration
}

func newServeCommand(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API",
		Long: `Serve the HTTP API. Sessions are the web app's NextAuth v4 / Auth.js v5 cookies
(or the same token as Authorization: Bearer), decrypted with AUTH_SECRET (and AUTH_SECRET_1..3
for rotation) or NEXTAUTH_SECRET, as the web app reads them. SIGTERM or SIGINT stops accepting
connections, lets in-flight requests finish, and closes the pool.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sessions, err := session.ConfigFromEnv(os.LookupEnv)
			if err != nil {
				return usageError{err}
			}
			conn, err := g.connConfig()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), g, o, serveRuntime{conn: conn, sessions: sessions})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "localhost:8080", "address to listen on")
	f.BoolVar(&o.migrate, "migrate", false, "apply pending migrations before serving")
	f.BoolVar(&o.linkVerifiedEmail, "link-verified-email", false,
		"link a new session id to the user owning its verified email instead of answering 409")
	f.Int32Var(&o.poolMaxConns, "pool-max-conns", 0,
		"most database connections (default: pgx's, max(4, CPUs), or pool_max_conns in the URL)")
	f.DurationVar(&o.acquireTimeout, "pool-acquire-timeout", 2*time.Second,
		"longest wait for a free connection before answering 503")
	f.DurationVar(&o.requestTimeout, "request-timeout", 10*time.Second,
		"longest a request may run")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 20*time.Second,
		"longest wait for in-flight requests on shutdown")
	return cmd
}

// serveRuntime is what serve needs beyond its flags: `serve` reads it from the
// environment, `dev` makes its own.
type serveRuntime struct {
	conn     *pgx.ConnConfig
	sessions session.Config
	// ready, when not nil, receives the listening address once requests are accepted.
	ready chan<- string
}

// serve runs the API until ctx ends.
func serve(ctx context.Context, g *globals, o serveOptions, rt serveRuntime) error {
	logger := g.logger.With("component", "serve")
	decoder, err := session.NewDecoder(rt.sessions)
	if err != nil {
		return err
	}

	connCfg := rt.conn
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return err
	}
	poolCfg.ConnConfig = connCfg
	if o.poolMaxConns > 0 {
		poolCfg.MaxConns = o.poolMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", describe(connCfg), err)
	}
	defer pool.Close()

	if o.migrate {
		if err := migrateUp(ctx, connCfg, logger); err != nil {
			return err
		}
	}
	wantVersion, err := migrate.LatestVersion(migrations.FS)
	if err != nil {
		return err
	}

	svc := secrets.New(pool, secrets.Options{
		LinkVerifiedEmail: o.linkVerifiedEmail,
		AcquireTimeout:    o.acquireTimeout,
		Logger:            logger,
	})
	handler := httpapi.New(httpapi.Config{
		Service:        svc,
		Sessions:       decoder,
		Logger:         logger,
		SchemaVersion:  wantVersion,
		RequestTimeout: o.requestTimeout,
	})

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      o.requestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	logger.Info("listening", "addr", ln.Addr().String(), "database", describe(connCfg),
		"schema_version", wantVersion, "link_verified_email", o.linkVerifiedEmail)
	if rt.ready != nil {
		rt.ready <- ln.Addr().String()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", o.shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// migrateUp applies pending migrations with the same lock, checksums and session
// settings as `secretsdb migrate up`.
func migrateUp(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) error {
	m, err := migrate.Open(ctx, cfg, migrate.Options{
		FS:             migrations.FS,
		LockTimeout:    migrate.DefaultLockTimeout,
		DDLLockTimeout: migrate.DefaultDDLLockTimeout,
		Logger:         logger,
	})
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	return nil
}
