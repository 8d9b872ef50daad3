package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

// One line per request with its id, route, status and duration; an Info line when a user
// is created; and never a token, a share or a password, whatever the request held.
func TestHTTPRequestLogs(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	cookies := mintCookies(t, sessionClaims("logged-user", "logged@example.com"))
	body := secretBody()
	share := body["server_share"].(string)
	const password = "correct-horse-battery-staple-7731"
	withPassword := secretBody()
	withPassword["password"] = password

	reqs := []struct {
		req    apiRequest
		route  string
		status int
	}{
		{apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: mustJSON(t, body), Cookies: cookies,
			Header: http.Header{"X-Request-Id": {"caller-chosen-id-1"}}},
			"POST /api/secrets", http.StatusCreated},
		{apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: mustJSON(t, withPassword), Cookies: cookies},
			"POST /api/secrets", http.StatusBadRequest},
		{apiRequest{Method: http.MethodGet, Path: "/api/secrets", Cookies: cookies},
			"GET /api/secrets", http.StatusOK},
		{apiRequest{Method: http.MethodGet, Path: "/api/secrets",
			Header: http.Header{"Authorization": {"Bearer " + cookies[0].Value}}},
			"GET /api/secrets", http.StatusOK},
		{apiRequest{Method: http.MethodPost,
			Path:    "/api/secrets/6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887/check-in",
			Cookies: cookies}, "POST /api/secrets/{id}/check-in", http.StatusNotFound},
		{apiRequest{Method: http.MethodGet, Path: "/healthz"}, "GET /healthz", http.StatusOK},
		{apiRequest{Method: http.MethodGet, Path: "/no/such/route", Cookies: cookies},
			"/", http.StatusNotFound},
	}
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		resp := api.mustDo(t, r.req)
		if resp.Status != r.status {
			t.Fatalf("%s %s: status %d, want %d; body %s",
				r.req.Method, r.req.Path, resp.Status, r.status, resp.Body)
		}
		ids[i] = resp.Header.Get("X-Request-Id")
	}
	// Close waits for the handlers, whose access line is written after the response.
	api.Srv.Close()
	logs := api.Logs.String()

	lines := parseLogLines(t, logs)
	byID := make(map[string][]map[string]any)
	provisioned := 0
	for _, l := range lines {
		switch l["msg"] {
		case "request":
			id, _ := l["request_id"].(string)
			byID[id] = append(byID[id], l)
		case "user provisioned":
			provisioned++
			if l["level"] != "INFO" || l["outcome"] != "created" || l["user_id"] != "logged-user" {
				t.Fatalf("provisioning line = %v, want INFO, created, logged-user", l)
			}
		}
	}
	if provisioned != 1 {
		t.Fatalf("%d user provisioned lines, want 1: %s", provisioned, logs)
	}
	if ids[0] != "caller-chosen-id-1" {
		t.Fatalf("X-Request-Id = %q, want the caller's id echoed", ids[0])
	}
	for i, r := range reqs {
		got := byID[ids[i]]
		if len(got) != 1 {
			t.Fatalf("request %s %s: %d log lines with request_id %q, want 1",
				r.req.Method, r.req.Path, len(got), ids[i])
		}
		l := got[0]
		d, isNumber := l["duration_ms"].(float64)
		if l["route"] != r.route || l["status"] != float64(r.status) || !isNumber || d < 0 {
			t.Fatalf("log line %v, want route %q, status %d and a duration_ms",
				l, r.route, r.status)
		}
	}
	for what, secret := range map[string]string{
		"session token": cookies[0].Value,
		"token prefix":  cookies[0].Value[:40],
		"server share":  share,
		"password":      password,
	} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log holds the %s: %s", what, logs)
		}
	}
}

// A 503 for a saturated pool is logged with an error that reads once: no sentinel said
// twice and no empty SQLSTATE.
func TestHTTPUnavailableLogReadsOnce(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	pool := sizedPool(t, db, 1)
	api := newAPIOn(t, db, pool, apiConfig{
		Service: secrets.Options{AcquireTimeout: 100 * time.Millisecond},
	})
	held, err := pool.Acquire(apiCtx(t))
	if err != nil {
		t.Fatalf("taking the pool's only connection: %v", err)
	}
	t.Cleanup(held.Release)
	cookies := mintCookies(t, sessionClaims("busy-user", "busy@example.com"))

	resp := api.createSecret(t, cookies, secretBody())

	e := requireError(t, resp, http.StatusServiceUnavailable, "unavailable", "")
	api.Srv.Close()
	var logged []string
	for _, l := range parseLogLines(t, api.Logs.String()) {
		if l["request_id"] == e.Error.RequestID && l["err"] != nil {
			logged = append(logged, fmt.Sprint(l["err"]))
		}
	}
	if len(logged) != 1 {
		t.Fatalf("%d log lines with an err for request %s, want 1: %s", len(logged),
			e.Error.RequestID, api.Logs.String())
	}
	if n := strings.Count(logged[0], secrets.ErrUnavailable.Error()); n != 1 ||
		strings.Contains(logged[0], "SQLSTATE") {
		t.Fatalf("logged err %q: %q %d times, want once and no SQLSTATE", logged[0],
			secrets.ErrUnavailable, n)
	}
}

// parseLogLines decodes JSON log lines, failing on any other line.
func parseLogLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading logs: %v", err)
	}
	return out
}
