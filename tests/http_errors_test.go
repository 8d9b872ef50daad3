package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/secretsdb/secretsdb/internal/httpapi"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
)

// Every failure answers {"error": {code, message, field?, request_id}} with its documented
// status, writes nothing, and never shows database error text.
func TestHTTPErrorResponses(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	cookies := mintCookies(t, sessionClaims("errors-user", "errors@example.com"))
	with := func(field string, value any) []byte {
		b := secretBody()
		b[field] = value
		return mustJSON(t, b)
	}
	post := func(body []byte) apiRequest {
		return apiRequest{Method: http.MethodPost, Path: "/api/secrets", Body: body,
			Cookies: cookies}
	}

	cases := []struct {
		name   string
		req    apiRequest
		status int
		code   string
		field  string
	}{
		{"CheckInDaysZero", post(with("check_in_days", 0)),
			http.StatusBadRequest, "invalid_input", "check_in_days"},
		{"CheckInDaysOverLimit", post(with("check_in_days", 3651)),
			http.StatusBadRequest, "invalid_input", "check_in_days"},
		{"NumberForString", post(with("title", 5)),
			http.StatusBadRequest, "invalid_input", "title"},
		{"StringForNumber", post(with("check_in_days", "30")),
			http.StatusBadRequest, "invalid_input", "check_in_days"},
		{"FloatForInteger", post(with("check_in_days", 30.5)),
			http.StatusBadRequest, "invalid_input", "check_in_days"},
		{"UnknownField", post(with("password", "hunter2")),
			http.StatusBadRequest, "invalid_input", "password"},
		{"ThresholdOverTotal", post(with("sss_threshold", 4)),
			http.StatusBadRequest, "invalid_input", "sss_threshold"},
		{"BadContactMethod", post(with("contact_method", "fax")),
			http.StatusBadRequest, "invalid_input", "contact_method"},
		{"MissingShare", post(with("server_share", "")),
			http.StatusBadRequest, "invalid_input", "server_share"},
		{"BadRecipientEmail", post(with("recipient_email", "not an email")),
			http.StatusBadRequest, "invalid_input", "recipient_email"},
		{"NotJSON", post([]byte(`{"title": "Letter`)),
			http.StatusBadRequest, "invalid_input", ""},
		{"TwoObjects", post([]byte(`{} {}`)),
			http.StatusBadRequest, "invalid_input", ""},
		{"ArrayBody", post([]byte(`[1, 2]`)),
			http.StatusBadRequest, "invalid_input", ""},
		{"OverBodyLimit", post(with("server_share", strings.Repeat("s", httpapi.MaxBodyBytes))),
			http.StatusRequestEntityTooLarge, "body_too_large", ""},
		{"PlainText", apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: with("title", "x"), ContentType: "text/plain", Cookies: cookies},
			http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
		{"FormBody", apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: []byte("title=x"), ContentType: "application/x-www-form-urlencoded",
			Cookies: cookies},
			http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
		{"NoSession", apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: with("title", "x")},
			http.StatusUnauthorized, "unauthenticated", ""},
		{"TamperedSession", apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: with("title", "x"), Cookies: tampered(cookies)},
			http.StatusUnauthorized, "invalid_session", ""},
		{"NumericSubject", apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: with("title", "x"),
			Cookies: rawV4Cookies(t, map[string]any{
				"sub": json.Number("103890241628354500674"), "email": "num@example.com"})},
			http.StatusBadRequest, "invalid_session_claim", "sub"},
		{"MalformedSecretID", apiRequest{Method: http.MethodPost,
			Path: "/api/secrets/42/check-in", Cookies: cookies},
			http.StatusBadRequest, "invalid_input", "secret_id"},
		{"UnknownRoute", apiRequest{Method: http.MethodGet, Path: "/api/nothing-here"},
			http.StatusNotFound, "not_found", ""},
		{"WrongMethod", apiRequest{Method: http.MethodDelete, Path: "/api/secrets",
			Cookies: cookies},
			http.StatusMethodNotAllowed, "method_not_allowed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := api.mustDo(t, tc.req)

			requireError(t, resp, tc.status, tc.code, tc.field)
			requireNoRows(t, api.DB)
		})
	}
}

// A method a known path does not take is a 405 naming the methods it does, in the error
// shape, whether or not a session comes with it; it never reads as a wrong URL (404).
func TestHTTPMethodNotAllowed(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	cookies := mintCookies(t, sessionClaims("method-user", "method@example.com"))
	secret := requireCreated(t, api.createSecret(t, cookies, secretBody()))
	before := rowCounts(t, api.DB)
	paths := []struct {
		path  string
		allow string
	}{
		{"/api/secrets", "GET, HEAD, POST"},
		{"/api/secrets/" + secret.ID, "GET, HEAD"},
		{"/api/secrets/" + secret.ID + "/check-in", "POST"},
		{"/healthz", "GET, HEAD"},
		{"/readyz", "GET, HEAD"},
	}
	methods := []string{http.MethodPut, http.MethodDelete, http.MethodPatch}

	for _, p := range paths {
		for _, method := range methods {
			for _, signedIn := range []bool{true, false} {
				req := apiRequest{Method: method, Path: p.path, Body: mustJSON(t, secretBody())}
				if signedIn {
					req.Cookies = cookies
				}

				resp := api.mustDo(t, req)

				e := requireError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed", "")
				if got := resp.Header.Get("Allow"); got != p.allow {
					t.Fatalf("%s %s: Allow = %q, want %q", method, p.path, got, p.allow)
				}
				if !strings.Contains(e.Error.Message, p.allow) {
					t.Fatalf("%s %s: message %q does not name %s", method, p.path,
						e.Error.Message, p.allow)
				}
			}
		}
	}
	wrongVerb := api.mustDo(t, apiRequest{Method: http.MethodGet,
		Path: "/api/secrets/" + secret.ID + "/check-in", Cookies: cookies})
	requireError(t, wrongVerb, http.StatusMethodNotAllowed, "method_not_allowed", "")
	requireRowCounts(t, api.DB, before)
}

// C06 under the default policy: a second id with a taken email is a 409 that leaves the
// first user and their secret as they were.
func TestHTTPEmailInUse(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	first := session.Claims{UserID: "103890241628354500674", Email: "sam.rivera@example.org",
		EmailVerified: true}
	requireCreated(t, api.createSecret(t, mintCookies(t, first), secretBody()))
	before := rowCounts(t, api.DB)
	second := session.Claims{UserID: "gh-4412", Email: "  SAM.RIVERA@example.org ",
		EmailVerified: true}

	create := api.createSecret(t, mintCookies(t, second), secretBody())
	checkIn := api.checkIn(t, mintCookies(t, second), "6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887")

	requireError(t, create, http.StatusConflict, "email_in_use", "email")
	requireError(t, checkIn, http.StatusConflict, "email_in_use", "email")
	requireRowCounts(t, api.DB, before)
}

// A triggered secret takes no more check-ins: 409, and no history row.
func TestHTTPCheckInOfTriggeredSecret(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	cookies := mintCookies(t, sessionClaims("triggered-user", "t@example.com"))
	secret := requireCreated(t, api.createSecret(t, cookies, secretBody()))
	apiExec(t, api.DB, `UPDATE public.secrets SET status = 'triggered' WHERE id = $1`, secret.ID)
	before := rowCounts(t, api.DB)

	resp := api.checkIn(t, cookies, secret.ID)

	requireError(t, resp, http.StatusConflict, "secret_triggered", "")
	requireRowCounts(t, api.DB, before)
}

// --link-verified-email: a verified email that belongs to an existing user links the new
// id to that user instead of answering 409. Off by default, and never for an unverified
// email.
func TestHTTPLinkVerifiedEmail(t *testing.T) {
	t.Parallel()
	const firstID, secondID = "103890241628354500674", "gh-4412"
	cases := []struct {
		name     string
		link     bool
		verified bool
		status   int
	}{
		{"Linked", true, true, http.StatusCreated},
		{"FlagOff", false, true, http.StatusConflict},
		{"Unverified", true, false, http.StatusConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newAPI(t, apiConfig{Service: secrets.Options{LinkVerifiedEmail: tc.link}})
			first := session.Claims{UserID: firstID, Email: "sam.rivera@example.org",
				EmailVerified: true}
			requireCreated(t, api.createSecret(t, mintCookies(t, first), secretBody()))
			before := rowCounts(t, api.DB)
			second := mintCookies(t, session.Claims{UserID: secondID,
				Email: "SAM.RIVERA@example.org", EmailVerified: tc.verified})

			resp := api.createSecret(t, second, secretBody())

			if tc.status != http.StatusCreated {
				requireError(t, resp, tc.status, "email_in_use", "email")
				requireRowCounts(t, api.DB, before)
				return
			}
			c := requireCreated(t, resp)
			var owner string
			if err := api.DB.Pool.QueryRow(apiCtx(t),
				`SELECT user_id FROM public.secrets WHERE id = $1`, c.ID).Scan(&owner); err != nil {
				t.Fatalf("loading secret: %v", err)
			}
			if owner != firstID {
				t.Fatalf("linked secret stored under %q, want the first user %q", owner, firstID)
			}
			requireRowCounts(t, api.DB, map[string]int{
				"users": 1, "accounts": 1, "secrets": 2, "audit_events": 4,
			})
			// The linked id now checks in the first user's secret as its own.
			if ci := api.checkIn(t, second, c.ID); ci.Status != http.StatusOK {
				t.Fatalf("check-in by the linked id: %d %s", ci.Status, ci.Body)
			}
			if logs := api.Logs.String(); !strings.Contains(logs, `"outcome":"linked"`) {
				t.Fatalf("no Info line for the linked id: %s", logs)
			}
		})
	}
}

// tampered flips one character of the token's ciphertext.
func tampered(cookies []*http.Cookie) []*http.Cookie {
	c := *cookies[0]
	b := []byte(c.Value)
	i := len(b) - 30
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	c.Value = string(b)
	return []*http.Cookie{&c}
}
