package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// notMigratedReason is /readyz's reason on a database without secretsdb's routines.
const notMigratedReason = "the database has no secretsdb schema, or an older one; " +
	"run secretsdb migrate up"

// A database that answers but was never migrated, or stopped before the SQL API, is not
// "unreachable" and not a 500: /readyz names the fix, every API route answers 503
// not_migrated, and the log carries the SQLSTATE at Warn.
func TestHTTPNotMigrated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		version int64 // 0: nothing applied
	}{
		{"EmptyDatabase", 0},
		{"TablesWithoutRoutines", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.NewEmpty(t)
			if tc.version > 0 {
				migrateTo(t, db, tc.version)
			}
			api := newAPIOn(t, db, db.Pool, apiConfig{})
			cookies := mintCookies(t, sessionClaims("early-user", "early@example.com"))
			const id = "6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887"

			ready := api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/readyz"})
			routes := []apiRequest{
				{Method: http.MethodPost, Path: "/api/secrets",
					Body: mustJSON(t, secretBody()), Cookies: cookies},
				{Method: http.MethodGet, Path: "/api/secrets", Cookies: cookies},
				{Method: http.MethodGet, Path: "/api/secrets/" + id, Cookies: cookies},
				{Method: http.MethodPost, Path: "/api/secrets/" + id + "/check-in",
					Cookies: cookies},
			}
			resps := make([]apiResponse, len(routes))
			for i, r := range routes {
				resps[i] = api.mustDo(t, r)
			}

			var body map[string]any
			if err := json.Unmarshal(ready.Body, &body); err != nil {
				t.Fatalf("/readyz body %s: %v", ready.Body, err)
			}
			if ready.Status != http.StatusServiceUnavailable ||
				body["status"] != "unavailable" || body["reason"] != notMigratedReason {
				t.Fatalf("/readyz = %d %s, want 503 with reason %q", ready.Status, ready.Body,
					notMigratedReason)
			}
			for i, resp := range resps {
				e := requireError(t, resp, http.StatusServiceUnavailable, "not_migrated", "")
				if !strings.Contains(e.Error.Message, "migrate up") {
					t.Fatalf("%s %s: message %q does not say what to run", routes[i].Method,
						routes[i].Path, e.Error.Message)
				}
			}
			requireNotMigratedLogs(t, api, len(routes))
		})
	}
}

// requireNotMigratedLogs fails unless the log holds want Warn lines with a SQLSTATE of
// a missing routine or table, and no Error line.
func requireNotMigratedLogs(t *testing.T, api *apiEnv, want int) {
	t.Helper()
	api.Srv.Close()
	warned := 0
	for _, l := range parseLogLines(t, api.Logs.String()) {
		if l["level"] == "ERROR" {
			t.Fatalf("an unmigrated database was logged as an error: %v", l)
		}
		code, _ := l["sqlstate"].(string)
		if l["level"] == "WARN" && l["request_id"] != nil && (code == "42883" || code == "42P01") {
			warned++
		}
	}
	if warned != want {
		t.Fatalf("%d Warn lines with SQLSTATE 42883 or 42P01, want %d: %s", warned, want,
			api.Logs.String())
	}
}
