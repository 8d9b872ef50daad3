package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/session"
)

const testSecret = "httpapi-unit-test-secret"

// newHandler returns a Handler with a real session decoder and no Service: requests that
// reach the database are bugs here, which is what the panic test needs.
func newHandler(t *testing.T) (*Handler, *bytes.Buffer) {
	t.Helper()
	dec, err := session.NewDecoder(session.Config{Secrets: []string{testSecret}})
	if err != nil {
		t.Fatalf("decoder: %v", err)
	}
	logs := &bytes.Buffer{}
	h := New(Config{
		Sessions: dec,
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
	})
	return h, logs
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// A panic in a handler is a 500 in the documented shape, with the request id and no
// detail, and it is logged with the access line.
func TestPanicIsInternalError(t *testing.T) {
	t.Parallel()
	h, logs := newHandler(t)
	token, err := session.Mint(session.Claims{UserID: "u", Email: "u@example.com"},
		testSecret, session.FormatV4, "next-auth.session-token", time.Hour, time.Now())
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	body := `{"title": "t", "recipient_name": "r", "recipient_email": "r@example.com",
		"server_share": "s"}`
	r := httptest.NewRequest(http.MethodPost, "/api/secrets", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+token)

	w := serve(h, r)

	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500; body %s", w.Code, w.Body)
	}
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	if e.Error.Code != "internal" || e.Error.RequestID == "" ||
		e.Error.RequestID != w.Header().Get("X-Request-Id") {
		t.Fatalf("error = %+v, want code internal and the response's request id", e.Error)
	}
	if strings.Contains(w.Body.String(), "nil pointer") {
		t.Fatalf("the panic reached the client: %s", w.Body)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"handler panic"`) || !strings.Contains(out, `"status":500`) {
		t.Fatalf("log lacks the panic or the access line with 500: %s", out)
	}
	if strings.Contains(out, token) {
		t.Fatalf("log holds the session token: %s", out)
	}
}

// A caller's request id is echoed only when it is short and plain; otherwise the handler
// makes one, so ids can be logged without escaping or forging log lines.
func TestRequestID(t *testing.T) {
	t.Parallel()
	h, logs := newHandler(t)
	cases := []struct {
		name string
		id   string
		echo bool
	}{
		{"Plain", "req-42.a_B", true},
		{"None", "", false},
		{"Newline", "abc\nlevel=ERROR", false},
		{"Quote", `abc"def`, false},
		{"TooLong", strings.Repeat("a", 65), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			if tc.id != "" {
				r.Header["X-Request-Id"] = []string{tc.id}
			}

			w := serve(h, r)

			got := w.Header().Get("X-Request-Id")
			if w.Code != http.StatusOK || (got == tc.id) != tc.echo || got == "" {
				t.Fatalf("status %d, X-Request-Id %q for caller id %q, echo %v",
					w.Code, got, tc.id, tc.echo)
			}
			if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
				t.Fatalf("no access line with request_id %q: %s", got, logs)
			}
		})
	}
}

// Routes that need no database answer without one: liveness, unknown routes, and a
// request without a session.
func TestRoutesWithoutDatabase(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t)
	cases := []struct {
		name         string
		method, path string
		status       int
		code         string
	}{
		{"Healthz", http.MethodGet, "/healthz", http.StatusOK, ""},
		{"UnknownRoute", http.MethodGet, "/nope", http.StatusNotFound, "not_found"},
		{"UnknownMethod", http.MethodPut, "/api/secrets",
			http.StatusMethodNotAllowed, "method_not_allowed"},
		{"ListAnonymous", http.MethodGet, "/api/secrets",
			http.StatusUnauthorized, "unauthenticated"},
		{"CheckInAnonymous", http.MethodPost, "/api/secrets/x/check-in",
			http.StatusUnauthorized, "unauthenticated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, httptest.NewRequest(tc.method, tc.path, nil))

			var e errorBody
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != tc.status || e.Error.Code != tc.code {
				t.Fatalf("%s %s = %d %s, want %d %q", tc.method, tc.path, w.Code, w.Body,
					tc.status, tc.code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q", ct)
			}
		})
	}
}
