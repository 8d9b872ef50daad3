package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/migrations"
)

// The main job on cookies made by the real libraries: an empty database, a session the
// service has never seen, one POST that provisions the user and stores the secret, and a
// check-in of that secret.
func TestHTTPMainJobOnLibraryCookies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture   string
		secretEnv string
		userID    string
		email     string
		name      *string
		image     *string
	}{
		{
			fixture:   "v4-google-new-user.json",
			secretEnv: "NEXTAUTH_SECRET",
			userID:    "103890241628354500674",
			email:     "ada.example@example.com",
			name:      ptr("Ada Example"),
			image:     ptr("https://example.com/ada.png"),
		},
		{
			fixture:   "v5-google-user.json",
			secretEnv: "AUTH_SECRET",
			userID:    "2b7e1516-28ae-4d2a-8f1b-6a5c3d2e1f00",
			email:     "lin@example.com",
			name:      ptr("Lin Example"),
		},
		{
			fixture:   "v4-credentials-user.json",
			secretEnv: "NEXTAUTH_SECRET",
			userID:    "5f0c2a9e-3f57-4c1e-9a59-0d6f1b8e7c21",
			email:     "grace@example.org",
			name:      ptr("Grace Example"),
		},
		{
			fixture:   "v4-no-name-no-picture.json",
			secretEnv: "NEXTAUTH_SECRET",
			userID:    "118273645500012345678",
			email:     "noname@example.net",
		},
	}
	for _, tc := range cases {
		t.Run(testName(tc.fixture), func(t *testing.T) {
			t.Parallel()
			f := loadSessionFixture(t, tc.fixture)
			api := newAPI(t, apiConfig{Env: map[string]string{tc.secretEnv: f.Secret}})
			requireNoRows(t, api.DB)
			body := secretBody()

			resp := api.createSecret(t, f.cookies(), body)

			c := requireCreated(t, resp)
			u := loadUser(t, api.DB, tc.userID)
			if u.Email != tc.email {
				t.Fatalf("stored email = %q, want %q", u.Email, tc.email)
			}
			if !equalPtr(u.Name, tc.name) || !equalPtr(u.Image, tc.image) {
				t.Fatalf("stored name, image = %s, %s, want %s, %s",
					show(u.Name), show(u.Image), show(tc.name), show(tc.image))
			}
			var owner, share string
			err := api.DB.Pool.QueryRow(apiCtx(t),
				`SELECT user_id, server_share FROM public.secrets WHERE id = $1`, c.ID).
				Scan(&owner, &share)
			if err != nil {
				t.Fatalf("loading secret %s: %v", c.ID, err)
			}
			if owner != tc.userID || share != body["server_share"] {
				t.Fatalf("secret owner, share = %q, %q, want %q, %q",
					owner, share, tc.userID, body["server_share"])
			}

			resp = api.checkIn(t, f.cookies(), c.ID)

			if resp.Status != http.StatusOK {
				t.Fatalf("check-in status = %d, want 200; body %s", resp.Status, resp.Body)
			}
			var ci struct {
				SecretID    string    `json:"secret_id"`
				LastCheckIn time.Time `json:"last_check_in"`
				NextCheckIn time.Time `json:"next_check_in"`
			}
			if err := json.Unmarshal(resp.Body, &ci); err != nil {
				t.Fatalf("check-in body %s: %v", resp.Body, err)
			}
			if ci.SecretID != c.ID || ci.NextCheckIn.Sub(ci.LastCheckIn) != 30*24*time.Hour {
				t.Fatalf("check-in = %+v, want secret %s due 30 x 24h after it", ci, c.ID)
			}
			n := apiCount(t, api.DB, `SELECT count(*) FROM public.checkin_history
				WHERE secret_id = $1 AND user_id = $2`, c.ID, tc.userID)
			if n != 1 {
				t.Fatalf("checkin_history holds %d rows for the secret, want 1", n)
			}
			requireRowCounts(t, api.DB, map[string]int{
				"users": 1, "secrets": 1, "checkin_history": 1, "audit_events": 3,
			})
		})
	}
}

// Cookies the service must refuse: 401, and not a row written anywhere.
func TestHTTPRefusedLibraryCookies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture string
		code    string
	}{
		{"v4-expired.json", "session_expired"},
		{"v4-wrong-secret.json", "invalid_session"},
	}
	for _, tc := range cases {
		t.Run(testName(tc.fixture), func(t *testing.T) {
			t.Parallel()
			f := loadSessionFixture(t, tc.fixture)
			api := newAPI(t, apiConfig{Env: map[string]string{"NEXTAUTH_SECRET": f.Secret}})

			create := api.createSecret(t, f.cookies(), secretBody())
			checkIn := api.checkIn(t, f.cookies(), "6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887")
			list := api.mustDo(t, apiRequest{
				Method: http.MethodGet, Path: "/api/secrets", Cookies: f.cookies(),
			})

			requireError(t, create, http.StatusUnauthorized, tc.code, "")
			requireError(t, checkIn, http.StatusUnauthorized, tc.code, "")
			requireError(t, list, http.StatusUnauthorized, tc.code, "")
			requireNoRows(t, api.DB)
		})
	}
}

// The web app's API routes may forward the same token as a bearer header; a v5 token
// then arrives without the cookie name its key was salted with.
func TestHTTPLibraryTokenAsBearer(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"v4-google-new-user.json", "v5-google-user.json"} {
		t.Run(testName(name), func(t *testing.T) {
			t.Parallel()
			f := loadSessionFixture(t, name)
			api := newAPI(t, apiConfig{Env: map[string]string{"AUTH_SECRET": f.Secret}})

			resp := api.mustDo(t, apiRequest{
				Method: http.MethodPost,
				Path:   "/api/secrets",
				Body:   mustJSON(t, secretBody()),
				Header: http.Header{"Authorization": {"Bearer " + f.CookieValue}},
			})

			requireCreated(t, resp)
			id := f.claim("sub")
			if n := apiCount(t, api.DB,
				`SELECT count(*) FROM public.secrets WHERE user_id = $1`, id); n != 1 {
				t.Fatalf("user %s owns %d secrets, want 1", id, n)
			}
		})
	}
}

// The user's list holds what they stored and never a share, IV or auth tag.
func TestHTTPListSecrets(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	mine := mintCookies(t, sessionClaims("list-owner", "owner@example.com"))
	other := mintCookies(t, sessionClaims("list-other", "other@example.com"))
	first := requireCreated(t, api.createSecret(t, mine, secretBody()))
	second := requireCreated(t, api.createSecret(t, mine, secretBody()))
	requireCreated(t, api.createSecret(t, other, secretBody()))
	if resp := api.checkIn(t, mine, first.ID); resp.Status != http.StatusOK {
		t.Fatalf("check-in status = %d; body %s", resp.Status, resp.Body)
	}

	resp := api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/api/secrets", Cookies: mine})

	if resp.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.Status, resp.Body)
	}
	var raw map[string][]map[string]any
	if err := json.Unmarshal(resp.Body, &raw); err != nil {
		t.Fatalf("list body %s: %v", resp.Body, err)
	}
	list := raw["secrets"]
	if len(list) != 2 {
		t.Fatalf("list holds %d secrets, want the caller's 2: %s", len(list), resp.Body)
	}
	ids := map[any]bool{list[0]["id"]: true, list[1]["id"]: true}
	if !ids[first.ID] || !ids[second.ID] {
		t.Fatalf("list ids = %v, want %s and %s", ids, first.ID, second.ID)
	}
	for _, s := range list {
		for _, hidden := range []string{"server_share", "iv", "auth_tag"} {
			if _, ok := s[hidden]; ok {
				t.Fatalf("list returns %s: %s", hidden, resp.Body)
			}
		}
		if checked := s["last_check_in"] != nil; checked != (s["id"] == first.ID) {
			t.Fatalf("last_check_in = %v for %v, want it set only on the checked-in one",
				s["last_check_in"], s["id"])
		}
	}
}

func ptr(s string) *string { return &s }

func equalPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return "'" + *s + "'"
}

// testName turns "v4-google-new-user.json" into "V4GoogleNewUser".
func testName(file string) string {
	out := make([]byte, 0, len(file))
	upper := true
	for i := 0; i < len(file) && file[i] != '.'; i++ {
		c := file[i]
		if c == '-' || c == '_' {
			upper = true
			continue
		}
		if upper && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper = false
		out = append(out, c)
	}
	return string(out)
}

// /healthz answers while the process is up; /readyz only when the database answers and
// carries the migrations this binary expects.
func TestHTTPHealthAndReadiness(t *testing.T) {
	t.Parallel()
	latest, err := migrate.LatestVersion(migrations.FS)
	if err != nil {
		t.Fatalf("latest migration: %v", err)
	}
	unreachable, err := pgxpool.New(apiCtx(t),
		"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("lazy pool: %v", err)
	}
	t.Cleanup(unreachable.Close)
	cases := []struct {
		name   string
		cfg    apiConfig
		ready  int
		reason string
	}{
		{"Current", apiConfig{SchemaVersion: latest}, http.StatusOK, ""},
		{"SchemaBehind", apiConfig{SchemaVersion: latest + 1}, http.StatusServiceUnavailable,
			"the database schema is behind this binary; run secretsdb migrate up"},
		{"DatabaseDown", apiConfig{SchemaVersion: latest, Pool: unreachable},
			http.StatusServiceUnavailable, "the database cannot be reached"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newAPI(t, tc.cfg)

			health := api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/healthz"})
			ready := api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/readyz"})

			if health.Status != http.StatusOK {
				t.Fatalf("/healthz = %d %s, want 200", health.Status, health.Body)
			}
			if ready.Status != tc.ready || ready.Took > noHang {
				t.Fatalf("/readyz = %d %s after %s, want %d", ready.Status, ready.Body,
					ready.Took, tc.ready)
			}
			var body struct {
				Status        string `json:"status"`
				Reason        string `json:"reason"`
				SchemaVersion int64  `json:"schema_version"`
			}
			if err := json.Unmarshal(ready.Body, &body); err != nil {
				t.Fatalf("/readyz body %s: %v", ready.Body, err)
			}
			if body.Reason != tc.reason {
				t.Fatalf("/readyz reason = %q, want %q", body.Reason, tc.reason)
			}
			if tc.ready == http.StatusOK && (body.Status != "ok" || body.SchemaVersion != latest) {
				t.Fatalf("/readyz body %s, want ok at version %d", ready.Body, latest)
			}
			for _, leak := range sqlLeaks {
				if strings.Contains(string(ready.Body), leak) {
					t.Fatalf("/readyz body holds database error text %q: %s", leak, ready.Body)
				}
			}
		})
	}
}

// A session too large for one cookie arrives in the chunks the library splits it into.
func TestHTTPChunkedSessionCookie(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	c := sessionClaims("chunked-user", "chunked@example.com")
	c.Name = strings.Repeat("\U0001F600", secrets.MaxNameLen)
	c.Picture = "https://example.com/" + strings.Repeat("p", 2000)
	cookies := mintCookies(t, c)
	if len(cookies) < 2 {
		t.Fatalf("arrange: the token fits one cookie; make the claims larger")
	}

	requireCreated(t, api.createSecret(t, cookies, secretBody()))

	if u := loadUser(t, api.DB, "chunked-user"); u.Name == nil || *u.Name != c.Name {
		t.Fatalf("stored name %s, want the claim's %d emoji", show(u.Name), secrets.MaxNameLen)
	}
}
