package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func requestWithCookies(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/secrets", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// bigUser has a name long enough to push a token past two chunks.
var bigUser = Claims{
	UserID: "5f0c2a9e-3f57-4c1e-9a59-0d6f1b8e7c21",
	Email:  "grace@example.org",
	Name:   strings.Repeat("Grace Example ", 450),
}

func TestFromRequestCookieNames(t *testing.T) {
	t.Parallel()
	for _, name := range CookieNames() {
		for _, f := range []Format{FormatV4, FormatV5} {
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				t.Parallel()
				d := newTestDecoder(t, testSecret)
				token := mint(t, testUser, testSecret, f, name)
				r := requestWithCookies(&http.Cookie{Name: name, Value: token})

				got, err := d.FromRequest(r)

				if err != nil || got.UserID != testUser.UserID {
					t.Fatalf("user %q, error %v", got.UserID, err)
				}
			})
		}
	}
}

func TestFromRequestChunked(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatV4, FormatV5} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			d := newTestDecoder(t, testSecret)
			name := "__Secure-authjs.session-token"
			if f == FormatV4 {
				name = "next-auth.session-token"
			}
			cookies := ChunkCookies(name, mint(t, bigUser, testSecret, f, name), f)
			if len(cookies) != 3 {
				t.Fatalf("got %d chunks, want 3 (.0 .1 .2)", len(cookies))
			}
			// Browsers order cookies by path length and age, not by name.
			cookies[0], cookies[2] = cookies[2], cookies[0]

			got, err := d.FromRequest(requestWithCookies(cookies...))

			if err != nil || got.Name != bigUser.Name {
				t.Fatalf("name of %d bytes, error %v", len(got.Name), err)
			}
		})
	}
}

func TestChunkCookiesSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format Format
		size   int
	}{
		{FormatV4, 3933},
		{FormatV5, 3936},
	}
	for _, tt := range tests {
		token := strings.Repeat("x", 2*tt.size+1)

		whole := ChunkCookies("n", token[:tt.size], tt.format)
		split := ChunkCookies("n", token, tt.format)

		if len(whole) != 1 || whole[0].Name != "n" {
			t.Fatalf("%v: a token of exactly %d bytes gave %d cookies",
				tt.format, tt.size, len(whole))
		}
		if len(split) != 3 || split[2].Name != "n.2" || len(split[0].Value) != tt.size ||
			len(split[2].Value) != 1 {
			t.Fatalf("%v: %d bytes split into %d cookies", tt.format, len(token), len(split))
		}
	}
}

func TestFromRequestBadChunks(t *testing.T) {
	t.Parallel()
	name := "authjs.session-token"
	token := mint(t, bigUser, testSecret, FormatV5, name)
	chunks := ChunkCookies(name, token, FormatV5)
	tests := map[string][]*http.Cookie{
		"MissingChunk":    {chunks[0], chunks[2]},
		"WholeAndChunked": append([]*http.Cookie{{Name: name, Value: token}}, chunks...),
		"OutOfOrderJoin": {
			{Name: name + ".0", Value: chunks[1].Value},
			{Name: name + ".1", Value: chunks[0].Value},
			chunks[2],
		},
	}
	for testName, cookies := range tests {
		t.Run(testName, func(t *testing.T) {
			t.Parallel()
			d := newTestDecoder(t, testSecret)

			_, err := d.FromRequest(requestWithCookies(cookies...))

			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
		})
	}
}

func TestFromRequestBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format Format
		salt   string
		header func(token string) string
	}{
		{"V4", FormatV4, "", plainBearer},
		{"V5", FormatV5, "authjs.session-token", plainBearer},
		{"V5Secure", FormatV5, "__Secure-authjs.session-token", plainBearer},
		{"PercentEncoded", FormatV4, "",
			func(tok string) string { return "Bearer " + strings.ReplaceAll(tok, ".", "%2E") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDecoder(t, testSecret)
			token := mint(t, testUser, testSecret, tt.format, tt.salt)
			r := requestWithCookies()
			r.Header.Set("Authorization", tt.header(token))

			got, err := d.FromRequest(r)

			if err != nil || got.UserID != testUser.UserID {
				t.Fatalf("user %q, error %v", got.UserID, err)
			}
		})
	}
}

// TestFromRequestOrder: the first cookie present decides, even when it fails, and a
// bearer header is read only without one.
func TestFromRequestOrder(t *testing.T) {
	t.Parallel()
	other := testUser
	other.UserID = "other-user"
	good := mint(t, testUser, testSecret, FormatV5, "__Secure-authjs.session-token")
	v4 := mint(t, other, testSecret, FormatV4, "")
	stale := mint(t, other, oldSecret, FormatV5, "authjs.session-token")

	d := newTestDecoder(t, testSecret)
	r := requestWithCookies(
		&http.Cookie{Name: "next-auth.session-token", Value: v4},
		&http.Cookie{Name: "__Secure-authjs.session-token", Value: good},
	)
	r.Header.Set("Authorization", "Bearer "+v4)
	got, err := d.FromRequest(r)
	if err != nil || got.UserID != testUser.UserID {
		t.Fatalf("secure v5 cookie first: user %q, error %v", got.UserID, err)
	}

	r = requestWithCookies(
		&http.Cookie{Name: "authjs.session-token", Value: stale},
		&http.Cookie{Name: "next-auth.session-token", Value: v4},
	)
	if _, err := d.FromRequest(r); !errors.Is(err, ErrInvalid) {
		t.Fatalf("failing first cookie: error %v, want ErrInvalid without fallback", err)
	}

	r = requestWithCookies(&http.Cookie{Name: "next-auth.session-token", Value: v4})
	r.Header.Set("Authorization", "Bearer "+good)
	got, err = d.FromRequest(r)
	if err != nil || got.UserID != other.UserID {
		t.Fatalf("cookie before bearer: user %q, error %v", got.UserID, err)
	}
}

func TestFromRequestNoSession(t *testing.T) {
	t.Parallel()
	d := newTestDecoder(t, testSecret)
	for name, r := range map[string]*http.Request{
		"Nothing":      requestWithCookies(),
		"OtherCookies": requestWithCookies(&http.Cookie{Name: "authjs.csrf-token", Value: "x"}),
		"EmptyCookie":  requestWithCookies(&http.Cookie{Name: "authjs.session-token", Value: ""}),
		"BasicAuth":    basicAuthRequest(),
	} {
		_, err := d.FromRequest(r)

		if !errors.Is(err, ErrNoSession) {
			t.Fatalf("%s: error %v, want ErrNoSession", name, err)
		}
	}
}

func plainBearer(token string) string { return "Bearer " + token }

func basicAuthRequest() *http.Request {
	r := requestWithCookies()
	r.SetBasicAuth("user", "pass")
	return r
}
