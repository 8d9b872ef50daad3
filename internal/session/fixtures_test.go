package session

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fixtureIssuedAt is the iat of every fixture token; tests pin their clock an hour later
// so the ten-year fixtures never age out and the expired one stays expired.
var fixtureIssuedAt = time.Unix(1796314313, 0)

// fixture is one token written by the real next-auth or @auth/core library.
type fixture struct {
	Library     string                     `json:"library"`
	CookieName  string                     `json:"cookie_name"`
	Secret      string                     `json:"secret"`
	TokenClaims map[string]json.RawMessage `json:"token_claims"`
	MaxAgeS     int64                      `json:"max_age_s"`
	CookieValue string                     `json:"cookie_value"`
	Note        string                     `json:"note"`
}

func loadFixture(t testing.TB, name string) fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parsing fixture %s: %v", name, err)
	}
	return f
}

func fixedClock(at time.Time) func() time.Time {
	return func() time.Time { return at }
}

func newTestDecoder(t testing.TB, secrets ...string) *Decoder {
	t.Helper()
	d, err := NewDecoder(Config{
		Secrets: secrets,
		Now:     fixedClock(fixtureIssuedAt.Add(time.Hour)),
	})
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	return d
}

// expectedClaims turns a fixture's token_claims into Claims by the documented rules,
// independently of parseClaims: id wins over sub, null is "".
func expectedClaims(t *testing.T, f fixture) Claims {
	t.Helper()
	str := func(name string) string {
		var s *string
		if raw, ok := f.TokenClaims[name]; ok {
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("fixture claim %s: %v", name, err)
			}
		}
		if s == nil {
			return ""
		}
		return *s
	}
	want := Claims{
		UserID:    str("sub"),
		Email:     str("email"),
		Name:      str("name"),
		Picture:   str("picture"),
		IssuedAt:  fixtureIssuedAt,
		ExpiresAt: fixtureIssuedAt.Add(time.Duration(f.MaxAgeS) * time.Second),
	}
	if id := str("id"); id != "" {
		want.UserID = id
	}
	return want
}

func TestFixturesDecode(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"v4-google-new-user",
		"v5-google-user",
		"v4-credentials-user",
		"v4-no-name-no-picture",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := loadFixture(t, name)
			d := newTestDecoder(t, f.Secret)

			got, err := d.Decode(f.CookieValue, f.CookieName)

			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if want := expectedClaims(t, f); got != want {
				t.Fatalf("claims:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestFixturesRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want error
	}{
		{"v4-expired", ErrExpired},
		{"v4-wrong-secret", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := loadFixture(t, tt.name)
			d := newTestDecoder(t, f.Secret)

			got, err := d.Decode(f.CookieValue, f.CookieName)

			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode error = %v, want %v", err, tt.want)
			}
			if got != (Claims{}) {
				t.Fatalf("Decode returned claims %+v alongside an error", got)
			}
		})
	}
}

// TestFixturesThroughRequest reads each good fixture as a browser would send it.
func TestFixturesThroughRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format Format
	}{
		{"v4-google-new-user", FormatV4},
		{"v5-google-user", FormatV5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := loadFixture(t, tt.name)
			d := newTestDecoder(t, f.Secret)
			r := requestWithCookies(ChunkCookies(f.CookieName, f.CookieValue, tt.format)...)

			got, err := d.FromRequest(r)

			if err != nil {
				t.Fatalf("FromRequest: %v", err)
			}
			if want := expectedClaims(t, f); got != want {
				t.Fatalf("claims:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
