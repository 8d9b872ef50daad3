package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// serverEnv is the environment without anything that could point the process at another
// database or secret than the test's.
func serverEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AUTH_SECRET") || name == "NEXTAUTH_SECRET" ||
			name == "DATABASE_URL" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// withFakePassword adds a password to a URL that has none, so the test can show that it
// never reaches the log. A server that trusts the connection ignores it; one that needs a
// password already has it in the URL or in PGPASSWORD, and then nothing is added.
func withFakePassword(t *testing.T, dsn string) (string, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	if pw, ok := u.User.Password(); ok {
		return dsn, pw
	}
	if os.Getenv("PGPASSWORD") != "" {
		return dsn, os.Getenv("PGPASSWORD")
	}
	const fake = "never-logged-pw-5521"
	u.User = url.UserPassword(u.User.Username(), fake)
	return u.String(), fake
}

// serveAppName tells the server's connections from the test's own in pg_stat_activity.
const serveAppName = "secretsdb-serve-under-test"

// withAppName sets application_name on a URL.
func withAppName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	q := u.Query()
	q.Set("application_name", serveAppName)
	u.RawQuery = q.Encode()
	return u.String()
}

// SIGTERM while a request waits on the database: the listener closes at once, the request
// still completes with 200, the pool is closed, and the process exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	bin := secretsdbBinary(t)
	db := testdb.New(t)
	dsn, password := withFakePassword(t, withAppName(t, db.URL))

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--log-format", "json",
		"--database-url", dsn)
	cmd.Env = serverEnv("AUTH_SECRET=" + apiSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("stderr pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting secretsdb serve: %v", err)
	}
	exited := make(chan error, 1)
	logs := &syncBuffer{}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, logs))
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				listening <- l.Addr
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited //nolint:errcheck // killed on purpose: its exit error is expected
		}
	})

	var addr string
	select {
	case addr = <-listening:
	case err := <-exited:
		t.Fatalf("secretsdb serve exited before listening: %v\n%s", err, logs.String())
	case <-time.After(apiTimeout):
		t.Fatalf("secretsdb serve did not log listening: %s", logs.String())
	}
	api := &apiEnv{DB: db, BaseURL: "http://" + addr, Client: &http.Client{}}
	cookies := mintCookies(t, sessionClaims("shutdown-user", "shutdown@example.com"))
	secret := requireCreated(t, api.createSecret(t, cookies, secretBody()))

	tx, err := db.Pool.Begin(apiCtx(t))
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer func() { _ = tx.Rollback(apiCtx(t)) }()
	if _, err := tx.Exec(apiCtx(t),
		`SELECT 1 FROM public.secrets WHERE id = $1 FOR UPDATE`, secret.ID); err != nil {
		t.Fatalf("locking the secret: %v", err)
	}
	inFlight := make(chan apiResponse, 1)
	go func() {
		resp, err := api.do(apiCtx(t), apiRequest{Method: http.MethodPost,
			Path: "/api/secrets/" + secret.ID + "/check-in", Cookies: cookies})
		if err != nil {
			t.Errorf("in-flight check-in: %v", err)
		}
		inFlight <- resp
	}()
	waitFor(t, "the check-in to wait on the row lock", func() bool {
		return apiCount(t, db, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND wait_event_type = 'Lock'`, db.Name) == 1
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-exited:
		t.Fatalf("exited with a request in flight: %v\n%s", err, logs.String())
	default:
	}
	if err := tx.Rollback(apiCtx(t)); err != nil {
		t.Fatalf("releasing the lock: %v", err)
	}
	select {
	case resp := <-inFlight:
		if resp.Status != http.StatusOK {
			t.Fatalf("in-flight check-in: %d %s, want 200", resp.Status, resp.Body)
		}
	case <-time.After(apiTimeout):
		t.Fatalf("the in-flight check-in never finished")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("secretsdb serve: %v, want exit 0\n%s", err, logs.String())
		}
	case <-time.After(apiTimeout):
		t.Fatalf("secretsdb serve did not exit after SIGTERM\n%s", logs.String())
	}
	if n := apiCount(t, db, `SELECT count(*) FROM public.checkin_history`); n != 1 {
		t.Fatalf("checkin_history holds %d rows, want the in-flight check-in", n)
	}
	waitFor(t, "the server's connections to close", func() bool {
		return apiCount(t, db, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = $2`, db.Name, serveAppName) == 0
	})
	out := logs.String()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %s:\n%s", want, out)
		}
	}
	for what, secretText := range map[string]string{
		"database password": password, "session token": cookies[0].Value,
	} {
		if bytes.Contains([]byte(out), []byte(secretText)) {
			t.Fatalf("the log holds the %s:\n%s", what, out)
		}
	}
}

// waitFor polls cond until it holds, failing the test after apiTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(apiTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
