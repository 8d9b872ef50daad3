package session

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	testSecret   = "test-secret-current-0123456789abcdef"
	oldSecret    = "test-secret-previous-0123456789abcd"
	v5CookieName = "authjs.session-token"
)

var testNow = fixtureIssuedAt.Add(time.Hour)

var testUser = Claims{
	UserID:  "103890241628354500674",
	Email:   "jordan.lee@example.com",
	Name:    "Jordan Lee",
	Picture: "https://example.com/jordan.png",
}

func mint(t testing.TB, c Claims, secret string, f Format, cookieName string) string {
	t.Helper()
	token, err := Mint(c, secret, f, cookieName, 30*24*time.Hour, testNow)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return token
}

// mintJSON encrypts a hand-written payload, for claims the libraries would never write.
func mintJSON(t testing.TB, payload string, f Format) string {
	t.Helper()
	token, err := mintRaw([]byte(payload), testSecret, f, v5CookieName)
	if err != nil {
		t.Fatalf("mintRaw: %v", err)
	}
	return token
}

func TestMintRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatV4, FormatV5} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			d := newTestDecoder(t, testSecret)
			token := mint(t, testUser, testSecret, f, v5CookieName)

			got, err := d.Decode(token, v5CookieName)

			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := testUser
			want.IssuedAt = testNow.Truncate(time.Second)
			want.ExpiresAt = want.IssuedAt.Add(30 * 24 * time.Hour)
			if got != want {
				t.Fatalf("claims:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestMintHeader pins the protected header to the libraries' exact bytes, so tokens
// minted here are indistinguishable from theirs.
func TestMintHeader(t *testing.T) {
	t.Parallel()
	v5 := loadFixture(t, "v5-google-user")
	tests := []struct {
		format Format
		secret string
		want   string
	}{
		{FormatV4, testSecret, loadFixture(t, "v4-google-new-user").CookieValue},
		{FormatV5, v5.Secret, v5.CookieValue},
	}
	for _, tt := range tests {
		t.Run(tt.format.String(), func(t *testing.T) {
			t.Parallel()

			token := mint(t, testUser, tt.secret, tt.format, v5CookieName)

			got, _, _ := strings.Cut(token, ".")
			want, _, _ := strings.Cut(tt.want, ".")
			if got != want {
				t.Fatalf("header = %s, want %s", got, want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatV4, FormatV5} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			cfg, err := ConfigFromEnv(envMap(map[string]string{
				"AUTH_SECRET":   testSecret,
				"AUTH_SECRET_1": oldSecret,
			}))
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			cfg.Now = fixedClock(testNow)
			d, err := NewDecoder(cfg)
			if err != nil {
				t.Fatalf("NewDecoder: %v", err)
			}

			older := mint(t, testUser, oldSecret, f, v5CookieName)
			newer := mint(t, testUser, testSecret, f, v5CookieName)

			fromOld, errOld := d.Decode(older, v5CookieName)
			fromNew, errNew := d.Decode(newer, v5CookieName)

			if errOld != nil || fromOld.UserID != testUser.UserID {
				t.Fatalf("token from AUTH_SECRET_1: user %q, error %v", fromOld.UserID, errOld)
			}
			if errNew != nil || fromNew.UserID != testUser.UserID {
				t.Fatalf("token from AUTH_SECRET: user %q, error %v", fromNew.UserID, errNew)
			}
		})
	}
}

func TestRetiredSecretRefused(t *testing.T) {
	t.Parallel()
	d := newTestDecoder(t, testSecret)
	for _, f := range []Format{FormatV4, FormatV5} {
		token := mint(t, testUser, oldSecret, f, v5CookieName)

		_, err := d.Decode(token, v5CookieName)

		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%v token from a retired secret: error %v, want ErrInvalid", f, err)
		}
	}
}

// TestV5SaltIsCookieName: a v5 key is bound to its cookie, so a token moved to another
// cookie name does not decode, while v4 tokens carry no such binding.
func TestV5SaltIsCookieName(t *testing.T) {
	t.Parallel()
	d := newTestDecoder(t, testSecret)
	token := mint(t, testUser, testSecret, FormatV5, "authjs.session-token")

	_, moved := d.Decode(token, "__Secure-authjs.session-token")
	_, custom := d.Decode(mint(t, testUser, testSecret, FormatV5, "app.sid"), "app.sid")

	if !errors.Is(moved, ErrInvalid) {
		t.Fatalf("v5 token under another cookie: error %v, want ErrInvalid", moved)
	}
	if custom != nil {
		t.Fatalf("v5 token under a custom cookie name: %v", custom)
	}
}

func TestTimeChecks(t *testing.T) {
	t.Parallel()
	now := testNow.Unix()
	tests := []struct {
		name string
		exp  int64
		nbf  string
		want error
	}{
		{"ExpiredBeyondTolerance", now - 15, "", ErrExpired},
		{"ExpiredWithinTolerance", now - 14, "", nil},
		{"NotBeforeInFuture", now + 3600, fmt.Sprintf(`,"nbf":%d`, now+16), ErrNotYetValid},
		{"NotBeforeWithinTolerance", now + 3600, fmt.Sprintf(`,"nbf":%d`, now+15), nil},
		{"NotBeforePast", now + 3600, fmt.Sprintf(`,"nbf":%d`, now-60), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDecoder(t, testSecret)
			payload := fmt.Sprintf(`{"sub":"u1","iat":%d,"exp":%d%s}`, now, tt.exp, tt.nbf)

			_, err := d.Decode(mintJSON(t, payload, FormatV5), v5CookieName)

			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Decode error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestClaimTypes(t *testing.T) {
	t.Parallel()
	exp := testNow.Add(time.Hour).Unix()
	tests := []struct {
		name    string
		claims  string
		wantID  string
		wantErr string
	}{
		{"NumericSub", `"sub":103890241628354500674`, "",
			"claim sub must be a string, got number"},
		{"NumericID", `"sub":"42","id":42`, "", "claim id must be a string, got number"},
		{"ObjectEmail", `"sub":"u1","email":{}`, "", "claim email must be a string, got object"},
		{"NoUser", `"name":"x"`, "", "claim sub must be a non-empty string, got nothing"},
		{"IDWins", `"sub":"google-123","id":"5f0c2a9e"`, "5f0c2a9e", ""},
		{"EmptyIDFallsBack", `"sub":"google-123","id":""`, "google-123", ""},
		{"NullProfile", `"sub":"u1","name":null,"picture":null,"email":null`, "u1", ""},
		{"LeadingZeros", `"sub":"00123"`, "00123", ""},
		{"StringVerified", `"sub":"u1","email_verified":"true"`, "",
			"claim email_verified must be a boolean, got string"},
		{"StringExp", `"sub":"u1","exp":"soon"`, "", "claim exp must be a number, got string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDecoder(t, testSecret)
			payload := fmt.Sprintf(`{"exp":%d,%s}`, exp, tt.claims)
			if strings.Contains(tt.claims, `"exp"`) {
				payload = "{" + tt.claims + "}"
			}

			got, err := d.Decode(mintJSON(t, payload, FormatV4), "")

			if tt.wantErr == "" {
				if err != nil || got.UserID != tt.wantID {
					t.Fatalf("user %q, error %v; want user %q", got.UserID, err, tt.wantID)
				}
				return
			}
			var ce *ClaimError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v (%T), want a *ClaimError matching ErrInvalid", err, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

func TestEmailVerified(t *testing.T) {
	t.Parallel()
	d := newTestDecoder(t, testSecret)
	exp := testNow.Add(time.Hour).Unix()
	for payload, want := range map[string]bool{
		fmt.Sprintf(`{"sub":"u","exp":%d,"email_verified":true}`, exp):  true,
		fmt.Sprintf(`{"sub":"u","exp":%d,"email_verified":false}`, exp): false,
		fmt.Sprintf(`{"sub":"u","exp":%d,"email_verified":null}`, exp):  false,
		fmt.Sprintf(`{"sub":"u","exp":%d}`, exp):                        false,
	} {
		got, err := d.Decode(mintJSON(t, payload, FormatV5), v5CookieName)

		if err != nil || got.EmailVerified != want {
			t.Fatalf("%s: EmailVerified %v, error %v; want %v",
				payload, got.EmailVerified, err, want)
		}
	}
}

func TestMissingExpRefused(t *testing.T) {
	t.Parallel()
	d := newTestDecoder(t, testSecret)

	_, err := d.Decode(mintJSON(t, `{"sub":"u1"}`, FormatV4), "")

	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "claim exp") {
		t.Fatalf("token without exp: error %v, want ErrInvalid naming exp", err)
	}
}

// TestTamperedRefused flips one character in each part of a valid token; the header is
// authenticated data and the ciphertext and tag are checked, so every change is refused.
func TestTamperedRefused(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatV4, FormatV5} {
		token := mint(t, testUser, testSecret, f, v5CookieName)
		parts := strings.Split(token, ".")
		for _, part := range []int{0, 2, 3, 4} {
			t.Run(fmt.Sprintf("%vPart%d", f, part), func(t *testing.T) {
				t.Parallel()
				d := newTestDecoder(t, testSecret)
				tampered := append([]string(nil), parts...)
				tampered[part] = flipMiddle(tampered[part])

				_, err := d.Decode(strings.Join(tampered, "."), v5CookieName)

				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("tampered part %d: error %v, want ErrInvalid", part, err)
				}
			})
		}
	}
}

// flipMiddle changes a middle character, never the last, whose low bits base64url
// decoders may ignore.
func flipMiddle(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestMalformedRefused(t *testing.T) {
	t.Parallel()
	d := newTestDecoder(t, testSecret)
	good := mint(t, testUser, testSecret, FormatV4, "")
	for name, token := range map[string]string{
		"NotJWE":   "not-a-token",
		"FourDots": good + ".x",
		"JWS":      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
		"Huge":     strings.Repeat("a", maxTokenBytes+1),
		// {"alg":"A256KW","enc":"A256GCM"}: key wrapping is not what the libraries use.
		"KeyWrap": "eyJhbGciOiJBMjU2S1ciLCJlbmMiOiJBMjU2R0NNIn0" +
			good[strings.IndexByte(good, '.'):],
	} {
		_, err := d.Decode(token, "")

		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: error %v, want ErrInvalid", name, err)
		}
	}
}

// TestErrorsDoNotLeak checks that no refusal quotes the token or the secret, since
// errors end up in logs.
func TestErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	d := newTestDecoder(t, testSecret)
	token := mint(t, testUser, oldSecret, FormatV5, v5CookieName)
	header, _, _ := strings.Cut(token, ".")
	for _, tt := range []struct{ token, cookie string }{
		{token, v5CookieName},
		{token, "__Secure-authjs.session-token"},
		{flipMiddle(header) + token[len(header):], v5CookieName},
		{token[:len(token)-10], ""},
	} {
		_, err := d.Decode(tt.token, tt.cookie)

		if err == nil {
			t.Fatalf("bad token accepted")
		}
		msg := err.Error()
		if strings.Contains(msg, oldSecret) || strings.Contains(msg, testSecret) ||
			strings.Contains(msg, header[:20]) || strings.Contains(msg, token[len(token)-20:]) {
			t.Fatalf("error quotes the token or a secret: %q", msg)
		}
	}
}

func TestNewDecoderNeedsSecret(t *testing.T) {
	t.Parallel()
	for name, secrets := range map[string][]string{
		"None":  nil,
		"Empty": {testSecret, ""},
	} {
		_, err := NewDecoder(Config{Secrets: secrets})

		if !errors.Is(err, ErrNoSecret) {
			t.Fatalf("%s: error %v, want ErrNoSecret", name, err)
		}
	}
}
