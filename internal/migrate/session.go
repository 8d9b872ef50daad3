package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// connCheckInterval is how often the server checks, while a migration statement runs,
// that the runner is still connected. A runner killed mid-statement then loses its
// session, its transaction and the migration lock within this time, instead of when the
// statement would have finished.
const connCheckInterval = "2s"

// sessionConfig returns a copy of cfg for migration sessions. The settings are startup
// parameters, so they hold on every connection the pool opens and override the role's
// and the database's defaults:
//   - search_path: unqualified names in a migration mean public whatever the role's
//     search_path or a schema named after the role says;
//   - TimeZone UTC: timestamps without a zone, goose's included, mean the same for every
//     runner;
//   - lock_timeout and statement_timeout from the options.
func sessionConfig(cfg *pgx.ConnConfig, opts Options, tr *tracer) *pgx.ConnConfig {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["search_path"] = "public, pg_temp"
	c.RuntimeParams["TimeZone"] = "UTC"
	c.RuntimeParams["lock_timeout"] = pgDuration(opts.DDLLockTimeout)
	c.RuntimeParams["statement_timeout"] = pgDuration(opts.StatementTimeout)
	if c.RuntimeParams["application_name"] == "" {
		c.RuntimeParams["application_name"] = "secretsdb migrate"
	}
	if tr != nil {
		c.Tracer = tr
	}
	return c
}

// pgDuration renders d as a PostgreSQL duration setting in milliseconds; 0 disables it.
func pgDuration(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms"
}

// serverMajor returns the server's major version from its server_version report.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	major, _, _ := strings.Cut(strings.Fields(v + " ")[0], ".")
	n, _ := strconv.Atoi(major)
	return n
}

// afterConnect prepares each new migration connection and remembers its backend, so the
// lock watcher knows whom to watch.
func (m *Migrator) afterConnect(ctx context.Context, conn *pgx.Conn) error {
	m.tracer.addBackend(conn.PgConn().PID())
	// client_connection_check_interval exists from PostgreSQL 14; older servers reject it
	// as a startup parameter, so it is set here.
	if serverMajor(conn) >= 14 {
		set := "SET client_connection_check_interval = '" + connCheckInterval + "'"
		if _, err := conn.Exec(ctx, set); err != nil {
			return fmt.Errorf("setting client_connection_check_interval: %w", err)
		}
	}
	return nil
}

// tracer follows the statements of the migration connections, so a failure can be tied
// to the statement text goose sent, and knows the connections' backend pids.
type tracer struct {
	mu       sync.Mutex
	backends []uint32
	running  map[uint32]runningStatement
	failures []failedStatement // the most recent few
}

type runningStatement struct {
	sql     string
	started time.Time
}

type failedStatement struct {
	pid     uint32
	sql     string
	started time.Time
	err     error
}

type tracerKey struct{}

func newTracer() *tracer { return &tracer{running: map[uint32]runningStatement{}} }

func (t *tracer) addBackend(pid uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.backends = append(t.backends, pid)
}

func (t *tracer) backendPIDs() []uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]uint32(nil), t.backends...)
}

func (t *tracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn,
	data pgx.TraceQueryStartData) context.Context {
	st := runningStatement{sql: data.SQL, started: time.Now()}
	t.mu.Lock()
	t.running[conn.PgConn().PID()] = st
	t.mu.Unlock()
	return context.WithValue(ctx, tracerKey{}, st)
}

func (t *tracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	pid := conn.PgConn().PID()
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.running, pid)
	if data.Err == nil {
		return
	}
	st, _ := ctx.Value(tracerKey{}).(runningStatement)
	t.failures = append(t.failures,
		failedStatement{pid: pid, sql: st.sql, started: st.started, err: data.Err})
	if len(t.failures) > 8 {
		t.failures = t.failures[1:]
	}
}

// failureOf returns the statement that raised err: the one whose error err wraps, or whose
// server error is the one err carries.
func (t *tracer) failureOf(err error) (failedStatement, bool) {
	var target *pgconn.PgError
	errors.As(err, &target)
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.failures) - 1; i >= 0; i-- {
		f := t.failures[i]
		var pe *pgconn.PgError
		if errors.Is(err, f.err) || (target != nil && errors.As(f.err, &pe) && pe == target) {
			return f, true
		}
	}
	return failedStatement{}, false
}
