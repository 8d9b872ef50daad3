package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A check-in stuck behind a row lock until --request-timeout ends it is a 503 timeout
// that names the limit and says when to retry; the database was up all along, so it is
// not "unavailable". Nothing is written, and the same check-in passes once the lock goes.
func TestHTTPRequestTimeout(t *testing.T) {
	t.Parallel()
	const limit = 700 * time.Millisecond
	api := newAPI(t, apiConfig{RequestTimeout: limit})
	cookies := mintCookies(t, sessionClaims("timeout-user", "timeout@example.com"))
	secret := requireCreated(t, api.createSecret(t, cookies, secretBody()))
	tx, err := api.DB.Pool.Begin(apiCtx(t))
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(apiCtx(t)) })
	if _, err := tx.Exec(apiCtx(t),
		`SELECT 1 FROM public.secrets WHERE id = $1 FOR UPDATE`, secret.ID); err != nil {
		t.Fatalf("locking the secret: %v", err)
	}

	resp := api.checkIn(t, cookies, secret.ID)
	if err := tx.Rollback(apiCtx(t)); err != nil {
		t.Fatalf("releasing the lock: %v", err)
	}

	e := requireError(t, resp, http.StatusServiceUnavailable, "timeout", "")
	if !strings.Contains(e.Error.Message, limit.String()) {
		t.Fatalf("message %q does not name the %s limit", e.Error.Message, limit)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatalf("503 timeout without Retry-After")
	}
	if resp.Took < limit || resp.Took > noHang {
		t.Fatalf("answered after %s, want after the %s limit and within %s", resp.Took,
			limit, noHang)
	}
	if n := apiCount(t, api.DB, `SELECT count(*) FROM public.checkin_history`); n != 0 {
		t.Fatalf("a check-in that timed out left %d history rows", n)
	}
	if ok := api.checkIn(t, cookies, secret.ID); ok.Status != http.StatusOK {
		t.Fatalf("check-in once the lock is gone: %d %s", ok.Status, ok.Body)
	}
	api.Srv.Close()
	warned := false
	for _, l := range parseLogLines(t, api.Logs.String()) {
		if l["msg"] == "request timed out" && l["level"] == "WARN" &&
			l["request_id"] == e.Error.RequestID && l["request_timeout"] == limit.String() {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no Warn line for request %s naming the limit: %s", e.Error.RequestID,
			api.Logs.String())
	}
}
