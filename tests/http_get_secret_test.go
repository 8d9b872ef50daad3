package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestHTTPGetSecret follows the Location of a created secret: the owner reads it back
// without its share; another user, an unknown id and a malformed id get the documented
// errors.
func TestHTTPGetSecret(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	owner := mintCookies(t, sessionClaims("get-owner", "get.owner@example.com"))
	c := requireCreated(t, api.createSecret(t, owner, secretBody()))

	resp := api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/api/secrets/" + c.ID,
		Cookies: owner})

	if resp.Status != http.StatusOK {
		t.Fatalf("GET own secret: status %d, body %s", resp.Status, resp.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got["id"] != c.ID || got["title"] != secretBody()["title"] || got["status"] != "active" {
		t.Fatalf("GET own secret = %s, want id %s, the title and status active", resp.Body, c.ID)
	}
	for _, hidden := range []string{"server_share", "iv", "auth_tag"} {
		if _, ok := got[hidden]; ok {
			t.Fatalf("GET returns %s: %s", hidden, resp.Body)
		}
	}

	other := mintCookies(t, sessionClaims("get-other", "get.other@example.com"))
	resp = api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/api/secrets/" + c.ID,
		Cookies: other})
	requireError(t, resp, http.StatusNotFound, "secret_not_found", "")

	unknown := "00000000-0000-4000-8000-" + strings.Repeat("0", 12)
	resp = api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/api/secrets/" + unknown,
		Cookies: owner})
	requireError(t, resp, http.StatusNotFound, "secret_not_found", "")

	resp = api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/api/secrets/nope",
		Cookies: owner})
	requireError(t, resp, http.StatusBadRequest, "invalid_input", "secret_id")

	if n := apiCount(t, api.DB, "SELECT count(*) FROM users"); n != 1 {
		t.Fatalf("reading secrets created users: %d rows, want the owner only", n)
	}
}

// TestHTTPCreatedBodyMatchesStoredRow checks that the 201 body shows optional fields as the
// database stores them: a whitespace-only phone is NULL in both.
func TestHTTPCreatedBodyMatchesStoredRow(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	owner := mintCookies(t, sessionClaims("echo-owner", "echo.owner@example.com"))
	body := secretBody()
	body["recipient_phone"] = "   "

	resp := api.createSecret(t, owner, body)

	c := requireCreated(t, resp)
	var created map[string]any
	if err := json.Unmarshal(resp.Body, &created); err != nil {
		t.Fatal(err)
	}
	got := api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/api/secrets/" + c.ID,
		Cookies: owner})
	var stored map[string]any
	if err := json.Unmarshal(got.Body, &stored); err != nil {
		t.Fatal(err)
	}
	if created["recipient_phone"] != nil || stored["recipient_phone"] != nil {
		t.Fatalf("recipient_phone: 201 says %v, GET says %v; want null in both",
			created["recipient_phone"], stored["recipient_phone"])
	}
}
