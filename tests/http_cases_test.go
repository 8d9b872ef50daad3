package tests

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
)

// C08: text PostgreSQL cannot store, in a session claim or in the body, is a 400 naming
// the field, never a 500 and never half a user.
func TestHTTPUnstorableText(t *testing.T) {
	t.Parallel()

	t.Run("NULInNameClaim", func(t *testing.T) {
		t.Parallel()
		api := newAPI(t, apiConfig{})
		c := sessionClaims("nul-user", "nul@example.com")
		c.Name = "Test\u0000User"

		resp := api.createSecret(t, mintCookies(t, c), secretBody())

		requireError(t, resp, http.StatusBadRequest, "invalid_input", "name")
		requireNoRows(t, api.DB)
	})

	t.Run("NULInBodyField", func(t *testing.T) {
		t.Parallel()
		api := newAPI(t, apiConfig{})
		body := secretBody()
		body["title"] = "Letter\u0000to Alex"

		resp := api.createSecret(t, mintCookies(t, sessionClaims("nul-body", "n@example.com")),
			body)

		requireError(t, resp, http.StatusBadRequest, "invalid_input", "title")
		requireNoRows(t, api.DB)
	})

	t.Run("InvalidUTF8InBody", func(t *testing.T) {
		t.Parallel()
		api := newAPI(t, apiConfig{})
		body := mustJSON(t, secretBody())
		body = bytes.Replace(body, []byte(`"Alex Morgan"`), []byte("\"Alex \xff\xfeMorgan\""), 1)
		if !bytes.Contains(body, []byte("\xff\xfe")) {
			t.Fatalf("arrange: recipient_name not found in %s", body)
		}

		resp := api.createSecret(t, mintCookies(t, sessionClaims("utf8-user", "u@example.com")),
			body)

		requireError(t, resp, http.StatusBadRequest, "invalid_input", "recipient_name")
		requireNoRows(t, api.DB)
	})
}

// C09: missing, empty and long profile claims. The user is created with NULL name, a
// long image is kept whole, and a later session with a name fills it in.
func TestHTTPProfileClaims(t *testing.T) {
	t.Parallel()

	t.Run("EmptyNameIsNull", func(t *testing.T) {
		t.Parallel()
		api := newAPI(t, apiConfig{})
		cookies := rawV4Cookies(t, map[string]any{
			"sub": "empty-name", "email": "empty@example.com", "name": "", "picture": nil,
		})

		requireCreated(t, api.createSecret(t, cookies, secretBody()))

		if u := loadUser(t, api.DB, "empty-name"); u.Name != nil || u.Image != nil {
			t.Fatalf("name, image = %s, %s, want NULL, NULL", show(u.Name), show(u.Image))
		}
	})

	t.Run("WhitespaceNameIsNull", func(t *testing.T) {
		t.Parallel()
		api := newAPI(t, apiConfig{})
		c := sessionClaims("blank-name", "blank@example.com")
		c.Name = "   "

		requireCreated(t, api.createSecret(t, mintCookies(t, c), secretBody()))

		if u := loadUser(t, api.DB, "blank-name"); u.Name != nil {
			t.Fatalf("name = %s, want NULL", show(u.Name))
		}
	})

	t.Run("NoNameThenName", func(t *testing.T) {
		t.Parallel()
		api := newAPI(t, apiConfig{})
		const id = "103890241628354500674"
		image := "https://example.com/a/" + strings.Repeat("x", 1800-len("https://example.com/a/"))
		c := session.Claims{UserID: id, Email: "ada@example.com", Picture: image}
		requireCreated(t, api.createSecret(t, mintCookies(t, c), secretBody()))
		u := loadUser(t, api.DB, id)
		if u.Name != nil || u.Image == nil || *u.Image != image {
			t.Fatalf("after the first session: name %s, image of %d chars, want NULL and %d",
				show(u.Name), len(orEmpty(u.Image)), len(image))
		}

		c.Name, c.Picture = "Ada Lovelace", ""
		requireCreated(t, api.createSecret(t, mintCookies(t, c), secretBody()))

		u = loadUser(t, api.DB, id)
		if u.Name == nil || *u.Name != "Ada Lovelace" {
			t.Fatalf("name = %s after a session with a name, want 'Ada Lovelace'", show(u.Name))
		}
		if u.Image == nil || *u.Image != image || u.Email != "ada@example.com" {
			t.Fatalf("image of %d chars, email %q after the update, want %d chars, unchanged",
				len(orEmpty(u.Image)), u.Email, len(image))
		}
		requireRowCounts(t, api.DB, map[string]int{"users": 1, "secrets": 2, "audit_events": 3})
	})

	t.Run("ImageOverLimit", func(t *testing.T) {
		t.Parallel()
		api := newAPI(t, apiConfig{})
		c := sessionClaims("long-image", "long@example.com")
		c.Picture = "https://example.com/" + strings.Repeat("y", secrets.MaxImageLen)

		resp := api.createSecret(t, mintCookies(t, c), secretBody())

		e := requireError(t, resp, http.StatusBadRequest, "invalid_input", "image")
		if !strings.Contains(e.Error.Message, "2048") {
			t.Fatalf("message %q does not name the limit", e.Error.Message)
		}
		requireNoRows(t, api.DB)
	})
}

// C10: a DBA's trigger refuses new users. The request gets the documented 422, nothing
// is left half-written, and once the trigger is gone the same request succeeds.
func TestHTTPRejectedByDBATrigger(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	apiExec(t, api.DB, `CREATE FUNCTION public.pause_signups() RETURNS trigger
		LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'signup paused'; END $$`)
	apiExec(t, api.DB, `CREATE TRIGGER pause_signups AFTER INSERT ON public.users
		FOR EACH ROW EXECUTE FUNCTION public.pause_signups()`)
	cookies := mintCookies(t, sessionClaims("paused-user", "paused@example.com"))

	resp := api.createSecret(t, cookies, secretBody())

	e := requireError(t, resp, http.StatusUnprocessableEntity, "rejected", "")
	if strings.Contains(e.Error.Message, "signup paused") {
		t.Fatalf("the trigger's message reached the client: %q", e.Error.Message)
	}
	requireNoRows(t, api.DB)
	if logs := api.Logs.String(); !strings.Contains(logs, "signup paused") ||
		strings.Contains(logs, `"user provisioned"`) {
		t.Fatalf("logs should carry the trigger's message and claim no user: %s", logs)
	}

	apiExec(t, api.DB, `DROP TRIGGER pause_signups ON public.users`)
	requireCreated(t, api.createSecret(t, cookies, secretBody()))
	requireRowCounts(t, api.DB, map[string]int{"users": 1, "secrets": 1, "audit_events": 2})
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
