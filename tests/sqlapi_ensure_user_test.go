package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSQLEnsureUserReturnsRowTwice covers C03: an existing user must come back whole, not
// as the empty result an INSERT ... ON CONFLICT DO NOTHING RETURNING gives.
func TestSQLEnsureUserReturnsRowTwice(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	in := args{"p_user_id": googleSubject, "p_email": jordanEmail}

	first, err := callEnsureUser(queryCtx(t), db.Pool, in)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	second, err := callEnsureUser(queryCtx(t), db.Pool, in)
	if err != nil {
		t.Fatalf("second call: %v", err)
	}

	want := ensuredUser{ID: googleSubject, Email: jordanEmail, Outcome: "created"}
	if first != want {
		t.Errorf("first call = %+v, want %+v", first, want)
	}
	want.Outcome = "existing"
	if second != want {
		t.Errorf("second call = %+v, want %+v", second, want)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.users"); n != 1 {
		t.Errorf("users holds %d rows, want 1", n)
	}
}

// TestSQLEnsureUserNormalisesEmail covers C04: the padded, mixed-case and the plain form
// of an address are one person, whichever arrives first.
func TestSQLEnsureUserNormalisesEmail(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	created := mustEnsureUser(t, db.Pool, args{
		"p_user_id": googleSubject,
		"p_email":   "  Jordan.Lee@Example.COM ",
	})
	again := mustEnsureUser(t, db.Pool, args{
		"p_user_id": googleSubject,
		"p_email":   jordanEmail,
	})

	if created.Email != jordanEmail || again.Email != jordanEmail {
		t.Errorf("returned emails %q and %q, want %q", created.Email, again.Email, jordanEmail)
	}
	var stored string
	err := db.Pool.QueryRow(queryCtx(t), "SELECT email FROM public.users WHERE id = $1",
		googleSubject).Scan(&stored)
	if err != nil {
		t.Fatal(err)
	}
	if stored != jordanEmail {
		t.Errorf("stored email = %q, want %q", stored, jordanEmail)
	}
}

// TestSQLEnsureUserRejectsBlankEmail covers C04: a blank address is no address.
func TestSQLEnsureUserRejectsBlankEmail(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	for _, tc := range []struct {
		name  string
		email any
	}{
		{"Empty", ""},
		{"Spaces", "   "},
		{"TabsAndNewlines", "\t\n "},
		{"Null", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := callEnsureUser(queryCtx(t), db.Pool, args{
				"p_user_id": googleSubject,
				"p_email":   tc.email,
			})

			pgErr := requireSQLState(t, err, "SD001", "email")
			if !strings.Contains(pgErr.Message, "required") {
				t.Errorf("message %q does not say the email is required", pgErr.Message)
			}
			requireNothingWritten(t, db.Pool)
		})
	}
}

// TestSQLEnsureUserKeepsOpaqueIDs covers C07: ids are text, so leading zeros survive and
// subjects longer than any integer type are stored digit for digit.
func TestSQLEnsureUserKeepsOpaqueIDs(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	for i, id := range []string{"00123", googleSubject, "10389024162835450067412345678"} {
		u := mustEnsureUser(t, db.Pool, args{
			"p_user_id": id,
			"p_email":   fmt.Sprintf("user%d@example.com", i),
		})

		if u.ID != id {
			t.Errorf("ensure_user(%q) returned id %q", id, u.ID)
		}
		n := countRows(t, db.Pool, "SELECT count(*) FROM public.users WHERE id = $1", id)
		if n != 1 {
			t.Errorf("users rows with id %q = %d, want 1", id, n)
		}
	}
}

// TestSQLEnsureUserEmailVerified checks that a verified session marks the user verified,
// also when the user was first seen unverified, and that an unverified one does not.
func TestSQLEnsureUserEmailVerified(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	verifiedAt := func(id string) *time.Time {
		t.Helper()
		var at *time.Time
		err := db.Pool.QueryRow(queryCtx(t),
			"SELECT email_verified FROM public.users WHERE id = $1", id).Scan(&at)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}

	mustEnsureUser(t, db.Pool, args{
		"p_user_id": "verified-1", "p_email": "v1@example.com", "p_email_verified": true,
	})
	mustEnsureUser(t, db.Pool, args{"p_user_id": "plain-1", "p_email": "p1@example.com"})

	if verifiedAt("verified-1") == nil {
		t.Error("p_email_verified => true left users.email_verified NULL")
	}
	if at := verifiedAt("plain-1"); at != nil {
		t.Errorf("unverified session set users.email_verified to %v", at)
	}

	mustEnsureUser(t, db.Pool, args{
		"p_user_id": "plain-1", "p_email": "p1@example.com", "p_email_verified": true,
	})
	if verifiedAt("plain-1") == nil {
		t.Error("a later verified session left users.email_verified NULL")
	}
}

// TestSQLEnsureUserEmailOfAnotherUser covers C06, an address already held under another
// provider id: refused by default, linked only when verified and explicitly allowed.
func TestSQLEnsureUserEmailOfAnotherUser(t *testing.T) {
	t.Parallel()
	const (
		samEmail = "sam.rivera@example.org"
		githubID = "gh-4412"
	)
	setup := func(t *testing.T) (querier, createdSecret) {
		t.Helper()
		db := newAPIDB(t)
		s := mustCreateSecret(t, db.Pool, args{"p_email": samEmail})
		return db.Pool, s
	}
	snapshot := func(t *testing.T, q querier) string {
		t.Helper()
		var s string
		err := q.QueryRow(queryCtx(t), `
			SELECT (SELECT json_agg(u ORDER BY u.id) FROM public.users u)::text
				|| (SELECT json_agg(s ORDER BY s.id) FROM public.secrets s)::text`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("RefusedByDefault", func(t *testing.T) {
		t.Parallel()
		q, _ := setup(t)
		before := snapshot(t, q)

		_, err := callEnsureUser(queryCtx(t), q, args{
			"p_user_id": githubID, "p_email": "SAM.RIVERA@example.org",
		})

		pgErr := requireSQLState(t, err, "SD002", "email")
		if !strings.Contains(pgErr.Message, samEmail) {
			t.Errorf("message %q does not name %s", pgErr.Message, samEmail)
		}
		if after := snapshot(t, q); after != before {
			t.Errorf("users and secrets changed:\nbefore %s\nafter  %s", before, after)
		}
		if n := countRows(t, q, "SELECT count(*) FROM public.accounts"); n != 0 {
			t.Errorf("accounts holds %d rows, want 0", n)
		}
	})

	for _, tc := range []struct {
		name     string
		verified bool
		link     bool
	}{
		{"RefusedVerifiedOnly", true, false},
		{"RefusedLinkOnly", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t)

			_, err := callEnsureUser(queryCtx(t), q, args{
				"p_user_id":             githubID,
				"p_email":               samEmail,
				"p_email_verified":      tc.verified,
				"p_link_verified_email": tc.link,
			})

			_ = requireSQLState(t, err, "SD002", "email")
			if n := countRows(t, q, "SELECT count(*) FROM public.accounts"); n != 0 {
				t.Errorf("accounts holds %d rows, want 0", n)
			}
		})
	}

	t.Run("LinkedWhenVerifiedAndAllowed", func(t *testing.T) {
		t.Parallel()
		q, first := setup(t)

		u, err := callEnsureUser(queryCtx(t), q, args{
			"p_user_id":             githubID,
			"p_email":               "SAM.RIVERA@example.org",
			"p_email_verified":      true,
			"p_link_verified_email": true,
			"p_provider":            "github",
		})
		if err != nil {
			t.Fatalf("linking call: %v", err)
		}
		later := mustCreateSecret(t, q, args{"p_user_id": githubID, "p_email": samEmail})

		want := ensuredUser{ID: googleSubject, Email: samEmail, Outcome: "linked"}
		if u != want {
			t.Errorf("ensure_user = %+v, want %+v", u, want)
		}
		n := countRows(t, q, `
			SELECT count(*) FROM public.accounts
			WHERE provider = 'github' AND provider_account_id = $1 AND user_id = $2`,
			githubID, googleSubject)
		if n != 1 {
			t.Errorf("accounts rows linking %s to %s = %d, want 1", githubID, googleSubject, n)
		}
		if later.UserID != googleSubject || later.Outcome != "existing" {
			t.Errorf("create_secret as %s returned user %q outcome %q, want %s existing",
				githubID, later.UserID, later.Outcome, googleSubject)
		}
		n = countRows(t, q, "SELECT count(*) FROM public.secrets WHERE user_id = $1",
			googleSubject)
		if n != 2 {
			t.Errorf("secrets of %s = %d, want 2 (%s and %s)",
				googleSubject, n, first.SecretID, later.SecretID)
		}
		if n := countRows(t, q, "SELECT count(*) FROM public.users"); n != 1 {
			t.Errorf("users holds %d rows, want 1", n)
		}
	})
}

// TestSQLEnsureUserProfileClaims covers C09: missing or empty claims become NULL, a long
// image URL is kept whole up to the documented 2048, and later claims fill gaps only.
func TestSQLEnsureUserProfileClaims(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	type profile struct {
		Email string
		Name  *string
		Image *string
	}
	load := func(id string) profile {
		t.Helper()
		var p profile
		err := db.Pool.QueryRow(queryCtx(t),
			"SELECT email, name, image FROM public.users WHERE id = $1", id).
			Scan(&p.Email, &p.Name, &p.Image)
		if err != nil {
			t.Fatalf("loading user %s: %v", id, err)
		}
		return p
	}
	longImage := "https://images.example.com/" + strings.Repeat("a", 1800-27)

	mustEnsureUser(t, db.Pool, args{"p_user_id": "no-name", "p_email": "a@example.com"})
	mustEnsureUser(t, db.Pool, args{
		"p_user_id": "empty-name", "p_email": "b@example.com", "p_name": "",
		"p_image": longImage,
	})

	if p := load("no-name"); p.Name != nil || p.Image != nil {
		t.Errorf("no claims stored name %v image %v, want NULL both", p.Name, p.Image)
	}
	p := load("empty-name")
	if p.Name != nil {
		t.Errorf(`name "" stored as %q, want NULL`, *p.Name)
	}
	if p.Image == nil || *p.Image != longImage {
		t.Fatalf("1800-character image not stored whole: %v", p.Image)
	}

	t.Run("TooLongImage", func(t *testing.T) {
		_, err := callEnsureUser(queryCtx(t), db.Pool, args{
			"p_user_id": "long-image", "p_email": "c@example.com",
			"p_image": strings.Repeat("i", 2049),
		})

		pgErr := requireSQLState(t, err, "SD001", "image")
		if !strings.Contains(pgErr.Message, "2048") {
			t.Errorf("message %q does not name the limit 2048", pgErr.Message)
		}
		n := countRows(t, db.Pool, "SELECT count(*) FROM public.users WHERE id = 'long-image'")
		if n != 0 {
			t.Errorf("rejected call stored %d users", n)
		}
	})

	t.Run("LaterNameFillsGap", func(t *testing.T) {
		u := mustEnsureUser(t, db.Pool, args{
			"p_user_id": "empty-name", "p_email": "b@example.com", "p_name": "Bo Chen",
		})

		if u.Outcome != "existing" {
			t.Errorf("outcome = %q, want existing", u.Outcome)
		}
		p := load("empty-name")
		if p.Name == nil || *p.Name != "Bo Chen" {
			t.Errorf("name = %v, want Bo Chen", p.Name)
		}
		if p.Image == nil || *p.Image != longImage || p.Email != "b@example.com" {
			t.Errorf("filling the name lost image or email: %+v", p)
		}
	})

	t.Run("LaterNameDoesNotOverwrite", func(t *testing.T) {
		mustEnsureUser(t, db.Pool, args{
			"p_user_id": "empty-name", "p_email": "b@example.com", "p_name": "Someone Else",
		})

		if p := load("empty-name"); p.Name == nil || *p.Name != "Bo Chen" {
			t.Errorf("a later claim replaced the stored name: %v", p.Name)
		}
	})
}

// TestSQLEnsureUserRejectsUnstorableText covers C08. PostgreSQL text cannot hold U+0000,
// and the server checks every text parameter's encoding before any routine runs, so a NUL
// byte or invalid UTF-8 is refused with 22021 (character_not_in_repertoire) by the server
// itself: our SD001 is never reached. Other control characters are valid text and are
// refused by the routine with SD001. Either way nothing is written.
func TestSQLEnsureUserRejectsUnstorableText(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	for _, tc := range []struct {
		name   string
		in     args
		code   string
		column string
	}{
		{"NULInName", args{"p_name": "Test\x00User"}, "22021", ""},
		{"InvalidUTF8InName", args{"p_name": "Test\xff\xfeUser"}, "22021", ""},
		{"NULInID", args{"p_user_id": "1038\x0090"}, "22021", ""},
		{"ControlCharInName", args{"p_name": "Test\x01User"}, "SD001", "name"},
		{"EscapeInName", args{"p_name": "Test\x1b[31mUser"}, "SD001", "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := merged(args{"p_user_id": googleSubject, "p_email": jordanEmail}, tc.in)

			_, err := callEnsureUser(queryCtx(t), db.Pool, in)
			_ = requireSQLState(t, err, tc.code, tc.column)
			_, err = callCreateSecret(queryCtx(t), db.Pool, tc.in)
			_ = requireSQLState(t, err, tc.code, tc.column)

			requireNothingWritten(t, db.Pool)
		})
	}
}

// TestSQLEnsureUserExistingWritesNothing checks the cheap path: a known, complete user is a
// read, so a sign-in does not take a transaction id or write a row version.
func TestSQLEnsureUserExistingWritesNothing(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	complete := args{
		"p_user_id":        googleSubject,
		"p_email":          jordanEmail,
		"p_name":           "Jordan Lee",
		"p_image":          "https://images.example.com/jordan.png",
		"p_email_verified": true,
	}
	mustEnsureUser(t, db.Pool, complete)
	mustEnsureUser(t, db.Pool, args{"p_user_id": "no-name", "p_email": "n@example.com"})
	assigned := func(t *testing.T, in args) bool {
		t.Helper()
		ctx := queryCtx(t)
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()

		if _, err := callEnsureUser(ctx, tx, in); err != nil {
			t.Fatal(err)
		}
		var xid *int64
		if err := tx.QueryRow(ctx, "SELECT txid_current_if_assigned()").Scan(&xid); err != nil {
			t.Fatal(err)
		}
		return xid != nil
	}

	t.Run("CompleteUser", func(t *testing.T) {
		if assigned(t, complete) {
			t.Error("ensure_user for a complete existing user assigned a transaction id")
		}
		if assigned(t, args{"p_user_id": googleSubject, "p_email": jordanEmail}) {
			t.Error("ensure_user with fewer claims than stored assigned a transaction id")
		}
	})

	// The counterpart shows the probe sees writes: a missing name is filled in.
	t.Run("MissingName", func(t *testing.T) {
		if !assigned(t, args{"p_user_id": "no-name", "p_email": "n@example.com",
			"p_name": "Nia Okafor"}) {
			t.Error("filling a missing name assigned no transaction id")
		}
	})
}

// TestSQLUserExists checks user_exists for a stored id, a linked provider id and a stranger.
func TestSQLUserExists(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	mustEnsureUser(t, db.Pool, args{
		"p_user_id": googleSubject, "p_email": jordanEmail, "p_email_verified": true,
	})
	mustEnsureUser(t, db.Pool, args{
		"p_user_id": "gh-1", "p_email": jordanEmail,
		"p_email_verified": true, "p_link_verified_email": true,
	})

	for id, want := range map[string]bool{googleSubject: true, "gh-1": true, "gh-2": false} {
		var got bool
		err := db.Pool.QueryRow(queryCtx(t), "SELECT public.user_exists($1)", id).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("user_exists(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestSQLLetterVIsNotWhitespace guards the whitespace set used to trim and blank-check
// text. PostgreSQL escape strings know no \v escape, so E' \t\n\r\f\v' holds the letter v
// and btrim with it strips v from both ends of a value.
func TestSQLLetterVIsNotWhitespace(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	u, err := callEnsureUser(queryCtx(t), db.Pool, args{
		"p_user_id": "vera", "p_email": "Vera@Example.TV",
	})
	if err != nil || u.Email != "vera@example.tv" {
		t.Errorf("ensure_user returned %+v, %v; want email vera@example.tv", u, err)
	}

	s, err := callCreateSecret(queryCtx(t), db.Pool, args{
		"p_user_id":         "vivian",
		"p_email":           "vivian@example.com",
		"p_title":           "v",
		"p_recipient_email": "viv@example.tv",
		"p_iv":              "vvvv",
	})
	if err != nil {
		t.Fatalf("create_secret with a title of one v: %v", err)
	}
	var title, recipient string
	var iv *string
	err = db.Pool.QueryRow(queryCtx(t),
		"SELECT title, recipient_email, iv FROM public.secrets WHERE id = $1", s.SecretID).
		Scan(&title, &recipient, &iv)
	if err != nil {
		t.Fatal(err)
	}
	if title != "v" || recipient != "viv@example.tv" || iv == nil || *iv != "vvvv" {
		t.Errorf("stored title %q recipient %q iv %v, want v, viv@example.tv, vvvv",
			title, recipient, iv)
	}

	_, err = db.Pool.Exec(queryCtx(t),
		"INSERT INTO public.users (id, email) VALUES ('viv', ' Viv@Example.TV')")
	if err != nil {
		t.Errorf("hand-written user with email ' Viv@Example.TV': %v", err)
	}
}
