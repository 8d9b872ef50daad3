package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/cli"
	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/internal/testdb"
	"github.com/secretsdb/secretsdb/migrations"
)

// serveProc is a running `secretsdb serve` with its JSON log.
type serveProc struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan error
	// listening is the startup line, decoded.
	listening map[string]any
	api       *apiEnv
}

// startServe runs bin serve with args and the test's session secret, and waits for its
// startup line. The process is killed when the test ends if it is still running.
func startServe(t *testing.T, bin string, db *testdb.DB, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0",
		"--log-format", "json"}, args...)...)
	cmd.Env = serverEnv("AUTH_SECRET=" + apiSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("stderr pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting secretsdb serve: %v", err)
	}
	p := &serveProc{cmd: cmd, logs: &syncBuffer{}, exited: make(chan error, 1)}
	listening := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, p.logs))
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "listening" {
				listening <- l
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.exited //nolint:errcheck // killed on purpose: its exit error is expected
		}
	})

	select {
	case p.listening = <-listening:
	case err := <-p.exited:
		t.Fatalf("secretsdb serve exited before listening: %v\n%s", err, p.logs.String())
	case <-time.After(apiTimeout):
		t.Fatalf("secretsdb serve did not log listening: %s", p.logs.String())
	}
	addr, _ := p.listening["addr"].(string)
	p.api = &apiEnv{DB: db, BaseURL: "http://" + addr, Client: &http.Client{}}
	return p
}

// stop sends SIGTERM and fails unless the process exits 0.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("secretsdb serve: %v, want exit 0\n%s", err, p.logs.String())
		}
	case <-time.After(apiTimeout):
		t.Fatalf("secretsdb serve did not exit after SIGTERM\n%s", p.logs.String())
	}
}

// logLine returns the first log line with msg, failing when there is none.
func (p *serveProc) logLine(t *testing.T, msg string) map[string]any {
	t.Helper()
	for _, l := range parseLogLines(t, p.logs.String()) {
		if l["msg"] == msg {
			return l
		}
	}
	t.Fatalf("no log line %q in:\n%s", msg, p.logs.String())
	return nil
}

// requireFields fails unless the log line holds each field with the given value; JSON
// numbers are compared as float64.
func requireFields(t *testing.T, line map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if n, ok := v.(int); ok {
			v = float64(n)
		}
		if n, ok := v.(int64); ok {
			v = float64(n)
		}
		if line[k] != v {
			t.Errorf("log field %s = %#v, want %#v; line %v", k, line[k], v, line)
		}
	}
}

func latestVersion(t *testing.T) int64 {
	t.Helper()
	v, err := migrate.LatestVersion(migrations.FS)
	if err != nil {
		t.Fatalf("latest migration version: %v", err)
	}
	return v
}

// `secretsdb serve` as deployed: one binary, built with its version, run against real
// databases.
func TestOpsServe(t *testing.T) {
	t.Parallel()
	bin := secretsdbBinary(t)
	latest := latestVersion(t)

	// From an empty database: --migrate reports what it applied, the startup line names
	// the version, database and schema state without the password, the metrics listener
	// counts the writes, the rate limit answers 429, and SIGTERM stops both listeners.
	t.Run("MigrateMetricsAndLimits", func(t *testing.T) {
		t.Parallel()
		db := testdb.NewEmpty(t)
		dsn, password := withFakePassword(t, db.URL)
		p := startServe(t, bin, db, "--database-url", dsn, "--migrate",
			"--metrics-addr", "127.0.0.1:0", "--rate-limit", "0.01", "--rate-burst", "1",
			"--query-exec-mode", "exec")

		applied := p.logLine(t, "migrations applied")
		requireFields(t, applied, map[string]any{"from": 0, "to": latest})
		if vs, _ := applied["versions"].([]any); int64(len(vs)) != latest {
			t.Errorf("versions applied = %v, want 1..%d", applied["versions"], latest)
		}
		requireFields(t, p.listening, map[string]any{
			"version":         binaryVersion,
			"database_host":   "127.0.0.1",
			"database_name":   db.Name,
			"schema_version":  latest,
			"schema_latest":   latest,
			"migration_state": "current",
			"query_exec_mode": "exec",
			"rate_limit":      0.01,
			"rate_burst":      1,
		})
		metricsAddr, _ := p.listening["metrics_addr"].(string)
		if metricsAddr == "" {
			t.Fatalf("the startup line has no metrics_addr: %v", p.listening)
		}
		metricsURL := "http://" + metricsAddr + "/metrics"
		cookies := mintCookies(t, sessionClaims("serve-ops-user", "serve.ops@example.com"))

		requireCreated(t, p.api.createSecret(t, cookies, secretBody()))
		limited := p.api.createSecret(t, cookies, secretBody())
		requireError(t, limited, http.StatusTooManyRequests, "rate_limited", "")
		if ra, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("Retry-After = %q, want whole seconds", limited.Header.Get("Retry-After"))
		}

		s := waitScrape(t, metricsURL, seriesRequests(routeCreate, 429), 1)
		for series, want := range map[string]float64{
			seriesSecretsCreated:                                    1,
			seriesUsersCreated:                                      1,
			seriesRequests(routeCreate, 201):                        1,
			seriesRequests(routeCreate, 429):                        1,
			`secretsdb_build_info{version="` + binaryVersion + `"}`: 1,
		} {
			if got := s.value(t, series); got != want {
				t.Errorf("%s = %g, want %g", series, got, want)
			}
		}
		for _, series := range []string{"secretsdb_pool_max_conns",
			"secretsdb_pool_acquired_conns", "go_goroutines"} {
			s.value(t, series)
		}

		p.stop(t)
		if c, err := net.DialTimeout("tcp", metricsAddr, time.Second); err == nil {
			c.Close()
			t.Fatalf("the metrics listener still accepts after shutdown")
		}
		logs := p.logs.String()
		for what, secret := range map[string]string{
			"database password": password, "session token": cookies[0].Value,
		} {
			if strings.Contains(logs, secret) {
				t.Fatalf("the log holds the %s:\n%s", what, logs)
			}
		}
	})

	// Without --migrate, on a database one version behind: the startup line says so, a
	// warning names the fix, /readyz answers 503, and no metrics listener runs.
	t.Run("SchemaBehind", func(t *testing.T) {
		t.Parallel()
		db := testdb.NewEmpty(t)
		migrateTo(t, db, latest-1)
		p := startServe(t, bin, db, "--database-url", db.URL)

		requireFields(t, p.listening, map[string]any{
			"schema_version":  latest - 1,
			"schema_latest":   latest,
			"migration_state": "behind",
			"rate_limit":      1,
			"rate_burst":      10,
		})
		if _, ok := p.listening["metrics_addr"]; ok {
			t.Fatalf("metrics_addr logged without --metrics-addr: %v", p.listening)
		}
		warn := p.logLine(t, "the database schema is behind this binary; /readyz answers "+
			"503 until secretsdb migrate up runs")
		requireFields(t, warn, map[string]any{"level": "WARN"})
		resp := p.api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/readyz"})
		if resp.Status != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d %s, want 503", resp.Status, resp.Body)
		}
		p.stop(t)
	})

	// As a member of secretsdb_app, the role docs/operations.md recommends, through the
	// simple protocol a transaction pooler needs: the startup check reads the schema
	// version, and writes work and are counted.
	t.Run("AppRoleSimpleProtocol", func(t *testing.T) {
		t.Parallel()
		db := testdb.New(t)
		role := testdb.NewLoginRole(t, "secretsdb_app")
		p := startServe(t, bin, db, "--database-url", db.URLAs(t, role),
			"--metrics-addr", "127.0.0.1:0", "--query-exec-mode", "simple_protocol")

		requireFields(t, p.listening, map[string]any{
			"migration_state": "current", "query_exec_mode": "simple_protocol",
			"database_user": role,
		})
		cookies := mintCookies(t, sessionClaims("app-role-user", "app.role@example.com"))
		secret := requireCreated(t, p.api.createSecret(t, cookies, secretBody()))
		if resp := p.api.checkIn(t, cookies, secret.ID); resp.Status != http.StatusOK {
			t.Fatalf("check-in: %d %s", resp.Status, resp.Body)
		}
		metricsAddr, _ := p.listening["metrics_addr"].(string)
		s := waitScrape(t, "http://"+metricsAddr+"/metrics",
			seriesRequests(routeCheckIn, 200), 1)
		for series, want := range map[string]float64{
			seriesSecretsCreated: 1, seriesCheckIns: 1, seriesUsersCreated: 1,
		} {
			if got := s.value(t, series); got != want {
				t.Errorf("%s = %g, want %g", series, got, want)
			}
		}
		p.stop(t)
	})

	t.Run("Version", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"version"}, {"--version"}} {
			ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
			out, err := exec.CommandContext(ctx, bin, args...).Output()
			cancel()
			if err != nil || string(out) != "secretsdb "+binaryVersion+"\n" {
				t.Fatalf("secretsdb %s = %q, %v; want %q", args[0], out, err,
					"secretsdb "+binaryVersion+"\n")
			}
		}
	})
}

// migrateTo applies the migrations up to version with the migrate package.
func migrateTo(t *testing.T, db *testdb.DB, version int64) {
	t.Helper()
	cfg := db.Pool.Config().ConnConfig.Copy()
	m, err := migrate.Open(apiCtx(t), cfg, migrate.Options{
		FS: migrations.FS, LockTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("opening migrator: %v", err)
	}
	defer m.Close()
	if _, err := m.UpTo(apiCtx(t), version); err != nil {
		t.Fatalf("migrating to %d: %v", version, err)
	}
}

// A binary built without -ldflags calls itself dev.
func TestOpsVersionDefault(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer

	code := cli.Run(apiCtx(t), []string{"version"}, &out, &errOut)

	if code != cli.ExitOK || out.String() != "secretsdb dev\n" {
		t.Fatalf("version = %d %q %q, want 0 and \"secretsdb dev\\n\"", code, out.String(),
			errOut.String())
	}
}

// Bad operations flags are usage errors (exit 2) naming the value and what is allowed,
// reported before any database or secret is looked at.
func TestOpsServeFlagErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"ExecMode", []string{"--query-exec-mode", "prepared"},
			`--query-exec-mode must be one of cache_statement, cache_describe, describe_exec, ` +
				`exec, simple_protocol, got "prepared"`},
		{"NegativeRate", []string{"--rate-limit", "-1"},
			"--rate-limit must be 0 (off) or above, got -1"},
		{"ZeroBurst", []string{"--rate-burst", "0"},
			"--rate-burst must be at least 1 while --rate-limit is on, got 0"},
		{"ZeroKeys", []string{"--rate-limit-keys", "0"},
			"--rate-limit-keys must be at least 1 while --rate-limit is on, got 0"},
		{"NegativePool", []string{"--pool-max-conns", "-3"},
			"--pool-max-conns must be 0 (the default) or more, got -3"},
		{"ZeroAcquireTimeout", []string{"--pool-acquire-timeout", "0s"},
			"--pool-acquire-timeout must be above 0, got 0s"},
		{"ZeroRequestTimeout", []string{"--request-timeout", "0s"},
			"--request-timeout must be above 0, got 0s"},
		{"ZeroShutdownTimeout", []string{"--shutdown-timeout", "0s"},
			"--shutdown-timeout must be above 0, got 0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer

			code := cli.Run(apiCtx(t), append([]string{"serve"}, tc.args...), &out, &errOut)

			if code != cli.ExitUsage || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("serve %v = exit %d, stderr %q; want exit 2 and %q", tc.args, code,
					errOut.String(), tc.want)
			}
		})
	}

	t.Run("RateLimitOff", func(t *testing.T) {
		t.Parallel()
		var out, errOut bytes.Buffer
		args := []string{"serve", "--rate-limit", "0", "--rate-burst", "0",
			"--rate-limit-keys", "0", "--query-exec-mode", "prepared"}

		code := cli.Run(apiCtx(t), args, &out, &errOut)

		if code != cli.ExitUsage || strings.Contains(errOut.String(), "rate") {
			t.Fatalf("with --rate-limit 0 the burst and keys are ignored; got exit %d, %q",
				code, errOut.String())
		}
	})
}
