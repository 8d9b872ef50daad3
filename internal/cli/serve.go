package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/secretsdb/secretsdb/internal/httpapi"
	"github.com/secretsdb/secretsdb/internal/metrics"
	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/internal/ratelimit"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
	"github.com/secretsdb/secretsdb/migrations"
)

// serveOptions are `secretsdb serve`'s flags. docs/operations.md lists them with their
// defaults and when to change them; keep the two in step.
type serveOptions struct {
	addr              string
	metricsAddr       string
	migrate           bool
	linkVerifiedEmail bool
	poolMaxConns      int32
	acquireTimeout    time.Duration
	queryExecMode     string
	requestTimeout    time.Duration
	shutdownTimeout   time.Duration
	rateLimit         float64
	rateBurst         int
	rateLimitKeys     int
}

// queryExecModes are --query-exec-mode's values, in pgx's order.
var queryExecModes = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"cache_statement", pgx.QueryExecModeCacheStatement},
	{"cache_describe", pgx.QueryExecModeCacheDescribe},
	{"describe_exec", pgx.QueryExecModeDescribeExec},
	{"exec", pgx.QueryExecModeExec},
	{"simple_protocol", pgx.QueryExecModeSimpleProtocol},
}

const metricsAddrUsage = "address to serve Prometheus metrics on, at /metrics " +
	"(default: off); keep it off the public network"

func newServeCommand(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API",
		Long: `Serve the HTTP API. Sessions are the web app's NextAuth v4 / Auth.js v5 cookies
(or the same token as Authorization: Bearer), decrypted with AUTH_SECRET (and AUTH_SECRET_1..3
for rotation) or NEXTAUTH_SECRET, as the web app reads them. SIGTERM or SIGINT stops accepting
connections, lets in-flight requests finish, and closes the pool. docs/operations.md
describes every flag, the metrics and the health endpoints.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError{err}
			}
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
	f.StringVar(&o.metricsAddr, "metrics-addr", "", metricsAddrUsage)
	f.BoolVar(&o.migrate, "migrate", false, "apply pending migrations before serving")
	f.BoolVar(&o.linkVerifiedEmail, "link-verified-email", false,
		"link a new session id to the user owning its verified email instead of answering 409")
	f.Int32Var(&o.poolMaxConns, "pool-max-conns", 0,
		"most database connections (default: pgx's, max(4, CPUs), or pool_max_conns in the URL)")
	f.DurationVar(&o.acquireTimeout, "pool-acquire-timeout", 2*time.Second,
		"longest wait for a free connection before answering 503")
	f.StringVar(&o.queryExecMode, "query-exec-mode", "",
		"how pgx sends statements: "+queryExecModeNames()+"; exec or simple_protocol behind "+
			"PgBouncer in transaction mode (default: default_query_exec_mode in the URL, "+
			"else cache_statement)")
	f.DurationVar(&o.requestTimeout, "request-timeout", 10*time.Second,
		"longest a request may run")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 20*time.Second,
		"longest wait for in-flight requests on shutdown")
	f.Float64Var(&o.rateLimit, "rate-limit", 1,
		"writes (secrets created, check-ins) each user may make per second on average; 0 "+
			"turns the limit off")
	f.IntVar(&o.rateBurst, "rate-burst", 10,
		"writes a user may make at once before --rate-limit applies")
	f.IntVar(&o.rateLimitKeys, "rate-limit-keys", 100000,
		"users whose write rate is remembered; the least recently seen are forgotten first")
	return cmd
}

// validate checks the flags that pflag's types do not, before anything is opened.
func (o serveOptions) validate() error {
	if _, err := parseQueryExecMode(o.queryExecMode); err != nil {
		return err
	}
	if o.poolMaxConns < 0 {
		return fmt.Errorf("--pool-max-conns must be 0 (the default) or more, got %d",
			o.poolMaxConns)
	}
	if o.acquireTimeout <= 0 {
		return fmt.Errorf("--pool-acquire-timeout must be above 0, got %s", o.acquireTimeout)
	}
	if o.requestTimeout <= 0 {
		return fmt.Errorf("--request-timeout must be above 0, got %s", o.requestTimeout)
	}
	if o.shutdownTimeout <= 0 {
		return fmt.Errorf("--shutdown-timeout must be above 0, got %s", o.shutdownTimeout)
	}
	if o.rateLimit < 0 {
		return fmt.Errorf("--rate-limit must be 0 (off) or above, got %g", o.rateLimit)
	}
	if o.rateLimit > 0 && o.rateBurst < 1 {
		return fmt.Errorf("--rate-burst must be at least 1 while --rate-limit is on, got %d",
			o.rateBurst)
	}
	if o.rateLimit > 0 && o.rateLimitKeys < 1 {
		return fmt.Errorf("--rate-limit-keys must be at least 1 while --rate-limit is on, "+
			"got %d", o.rateLimitKeys)
	}
	return nil
}

// parseQueryExecMode returns the mode named s, or 0 for "", which keeps the connection
// settings' own default.
func parseQueryExecMode(s string) (pgx.QueryExecMode, error) {
	if s == "" {
		return 0, nil
	}
	for _, m := range queryExecModes {
		if m.name == s {
			return m.mode, nil
		}
	}
	return 0, fmt.Errorf("--query-exec-mode must be one of %s, got %q", queryExecModeNames(), s)
}

func queryExecModeNames() string {
	names := make([]string, len(queryExecModes))
	for i, m := range queryExecModes {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

func queryExecModeName(mode pgx.QueryExecMode) string {
	for _, m := range queryExecModes {
		if m.mode == mode {
			return m.name
		}
	}
	return mode.String()
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
	if err := o.validate(); err != nil {
		return usageError{err}
	}
	decoder, err := session.NewDecoder(rt.sessions)
	if err != nil {
		return err
	}

	pool, err := openPool(ctx, rt.conn, o)
	if err != nil {
		return err
	}
	defer pool.Close()

	if o.migrate {
		if err := migrateUp(ctx, rt.conn, logger); err != nil {
			return err
		}
	}
	latest, err := migrate.LatestVersion(migrations.FS)
	if err != nil {
		return err
	}

	var reg *prometheus.Registry
	var m *metrics.Metrics
	if o.metricsAddr != "" {
		if reg, m, err = newRegistry(pool); err != nil {
			return err
		}
	}
	svc := secrets.New(pool, serviceOptions(o, logger, m))
	schema := schemaState(ctx, svc, latest, logger)
	cfg := httpapi.Config{
		Service:        svc,
		Sessions:       decoder,
		Logger:         logger,
		SchemaVersion:  latest,
		RequestTimeout: o.requestTimeout,
	}
	if m != nil {
		cfg.ObserveRequest = m.ObserveRequest
	}
	if o.rateLimit > 0 {
		limiter, err := ratelimit.New(o.rateLimit, o.rateBurst, o.rateLimitKeys)
		if err != nil {
			return usageError{err}
		}
		cfg.WriteLimiter = limiter
	}

	servers, err := listen(ctx, o, httpapi.New(cfg), reg)
	if err != nil {
		return err
	}
	logStartup(logger, o, servers, rt.conn, pool, schema)
	if rt.ready != nil {
		rt.ready <- servers.api.Addr().String()
	}
	return servers.run(ctx, o.shutdownTimeout, logger)
}

// openPool opens the service's pool with the pool flags applied. The exec mode is set on
// a copy: migrations keep the plain settings, as they need a direct connection anyway.
func openPool(ctx context.Context, conn *pgx.ConnConfig, o serveOptions) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	poolCfg.ConnConfig = conn.Copy()
	if mode, _ := parseQueryExecMode(o.queryExecMode); mode != 0 {
		poolCfg.ConnConfig.DefaultQueryExecMode = mode
	}
	if o.poolMaxConns > 0 {
		poolCfg.MaxConns = o.poolMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", describe(conn), err)
	}
	return pool, nil
}

// newRegistry makes the metrics registry: the API's metrics, the pool's, the build's
// version, and the Go runtime's and process's usual ones.
func newRegistry(pool *pgxpool.Pool) (*prometheus.Registry, *metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range []prometheus.Collector{
		metrics.NewPoolCollector(pool.Stat),
		metrics.NewBuildInfo(Version()),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, nil, err
		}
	}
	return reg, m, nil
}

func serviceOptions(o serveOptions, logger *slog.Logger, m *metrics.Metrics) secrets.Options {
	opts := secrets.Options{
		LinkVerifiedEmail: o.linkVerifiedEmail,
		AcquireTimeout:    o.acquireTimeout,
		Logger:            logger,
	}
	if m != nil {
		opts.OnRetry = m.Retried
		opts.OnUserProvisioned = func(outcome secrets.Outcome) {
			m.UserProvisioned(string(outcome))
		}
		opts.OnSecretCreated = m.SecretCreated
		opts.OnCheckIn = m.CheckedIn
	}
	return opts
}

// schemaInfo is the migration state logged at startup.
type schemaInfo struct {
	version int64 // the database's, -1 when it could not be read
	latest  int64 // the binary's
	state   string
}

// schemaState reads the database's schema version through the service's own role, which
// may not read goose's table, and compares it with the binary's. A database that cannot
// be read is logged, not fatal: /readyz reports it until the database comes back.
func schemaState(ctx context.Context, svc *secrets.Service, latest int64,
	logger *slog.Logger) schemaInfo {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s := schemaInfo{version: -1, latest: latest}
	v, err := svc.SchemaVersion(ctx)
	switch {
	case err != nil:
		s.state = "unknown"
		logger.Warn("the database's schema version cannot be read; /readyz answers 503 "+
			"until it can", "err", err)
	case v < latest:
		s.version, s.state = v, "behind"
		logger.Warn("the database schema is behind this binary; /readyz answers 503 until "+
			"secretsdb migrate up runs", "schema_version", v, "schema_latest", latest)
	case v > latest:
		s.version, s.state = v, "ahead"
		logger.Warn("the database schema is ahead of this binary; a newer release migrated it",
			"schema_version", v, "schema_latest", latest)
	default:
		s.version, s.state = v, "current"
	}
	return s
}

// logStartup writes the one line an operator looks for: what runs, where, on which
// database, at which schema. The database is named by host and name, never by URL, so
// no password can reach the log.
func logStartup(logger *slog.Logger, o serveOptions, s *servers, conn *pgx.ConnConfig,
	pool *pgxpool.Pool, schema schemaInfo) {
	attrs := []any{
		"version", Version(),
		"addr", s.api.Addr().String(),
		"database_host", conn.Host,
		"database_port", conn.Port,
		"database_name", conn.Database,
		"database_user", conn.User,
		"schema_version", schema.version,
		"schema_latest", schema.latest,
		"migration_state", schema.state,
		"pool_max_conns", pool.Config().MaxConns,
		"query_exec_mode", queryExecModeName(pool.Config().ConnConfig.DefaultQueryExecMode),
		"link_verified_email", o.linkVerifiedEmail,
	}
	if s.metrics != nil {
		attrs = append(attrs, "metrics_addr", s.metrics.Addr().String())
	}
	if o.rateLimit > 0 {
		attrs = append(attrs, "rate_limit", o.rateLimit, "rate_burst", o.rateBurst,
			"rate_limit_keys", o.rateLimitKeys)
	} else {
		attrs = append(attrs, "rate_limit", "off")
	}
	logger.Info("listening", attrs...)
}

// servers are the API's listener and, when --metrics-addr is set, the metrics listener.
type servers struct {
	api, metrics       net.Listener
	apiSrv, metricsSrv *http.Server
}

func listen(ctx context.Context, o serveOptions, handler http.Handler,
	reg *prometheus.Registry) (*servers, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	s := &servers{api: ln, apiSrv: &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      o.requestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
	}}
	if reg == nil {
		return s, nil
	}

	mln, err := lc.Listen(ctx, "tcp", o.metricsAddr)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("listening for metrics on %s: %w", o.metricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	s.metrics = mln
	s.metricsSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return s, nil
}

// run serves until ctx ends or a listener fails, then shuts down gracefully: the API
// stops accepting, in-flight requests get up to timeout, then the metrics listener closes
// so the last scrape can still see them.
func (s *servers) run(ctx context.Context, timeout time.Duration, logger *slog.Logger) error {
	errc := make(chan error, 2)
	go func() { errc <- s.apiSrv.Serve(s.api) }()
	if s.metricsSrv != nil {
		go func() { errc <- s.metricsSrv.Serve(s.metrics) }()
	}
	select {
	case err := <-errc:
		s.close()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", timeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.apiSrv.Shutdown(shutdownCtx)
	if s.metricsSrv != nil {
		err = errors.Join(err, s.metricsSrv.Shutdown(shutdownCtx))
	}
	if err != nil {
		// Closing the connections cancels the requests still running, so their pooled
		// connections come back and closing the pool does not wait on them.
		s.close()
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("stopped")
	return nil
}

func (s *servers) close() {
	s.apiSrv.Close()
	if s.metricsSrv != nil {
		s.metricsSrv.Close()
	}
}

// migrateUp applies pending migrations with the same lock, checksums and session
// settings as `secretsdb migrate up`, and logs what it applied.
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
	rep, err := m.Up(ctx)
	if err != nil {
		// The same exit codes as `secretsdb migrate up`: 3 for a checksum mismatch or a
		// database migrated by a newer release, 1 for any other failure.
		return exitError{code: exitCodeOf(err), err: fmt.Errorf("migrating: %w", err)}
	}
	if len(rep.Applied) == 0 {
		logger.Info("migrations: nothing to apply", "schema_version", rep.VersionAfter)
		return nil
	}
	applied := make([]int64, len(rep.Applied))
	for i, a := range rep.Applied {
		applied[i] = a.Version
	}
	logger.Info("migrations applied", "from", rep.VersionBefore, "to", rep.VersionAfter,
		"versions", applied)
	return nil
}
