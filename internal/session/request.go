package session

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// cookieNames is the order FromRequest reads session cookies in. Auth.js v5 comes before
// NextAuth.js v4 because an app upgraded to v5 may still hold a stale v4 cookie from
// before the upgrade. Within each, the __Secure- name comes first: browsers accept it only
// from HTTPS, so a plain-HTTP origin on the same host cannot plant it.
var cookieNames = []string{
	"__Secure-authjs.session-token",
	"authjs.session-token",
	"__Secure-next-auth.session-token",
	"next-auth.session-token",
}

// CookieNames returns the session cookie names FromRequest reads, in the order it reads
// them: __Secure-authjs.session-token, authjs.session-token,
// __Secure-next-auth.session-token, next-auth.session-token.
func CookieNames() []string {
	return append([]string(nil), cookieNames...)
}

// FromRequest returns the claims of the session the request carries. It uses the first
// name of CookieNames present on the request, whole or in chunks, and only then an
// "Authorization: Bearer <token>" header, as the libraries' getToken does. A later cookie
// is not tried when an earlier one fails: signing out clears only the app's own cookie,
// and falling back to another would revive a session the user ended.
//
// It returns ErrNoSession when there is no token at all, and otherwise the error of
// decoding the one token found.
func (d *Decoder) FromRequest(r *http.Request) (Claims, error) {
	jar := firstCookies(r)
	for _, name := range cookieNames {
		token, err := joinChunks(jar, name)
		if err != nil {
			return Claims{}, err
		}
		if token != "" {
			return d.Decode(token, name)
		}
	}

	token, err := bearerToken(r)
	if err != nil {
		return Claims{}, err
	}
	if token == "" {
		return Claims{}, ErrNoSession
	}
	return d.Decode(token, "")
}

// firstCookies maps each cookie name to its first non-empty value. A browser sends the
// same name twice when two paths or domains set it; the libraries' cookie parsers keep the
// first, which is the one with the most specific path.
func firstCookies(r *http.Request) map[string]string {
	jar := make(map[string]string)
	for _, c := range r.Cookies() {
		if c.Value == "" {
			continue
		}
		if _, seen := jar[c.Name]; !seen {
			jar[c.Name] = c.Value
		}
	}
	return jar
}

// joinChunks returns the token stored under name: the whole cookie, or chunks
// name.0, name.1, ... joined in numeric order as SessionStore does. It returns "" when
// neither is present. A whole cookie beside chunks, or a missing chunk, cannot make a
// valid token (the library clears one form when it writes the other), so both are
// refused as ErrInvalid rather than guessed at.
func joinChunks(jar map[string]string, name string) (string, error) {
	whole, hasWhole := jar[name]

	chunks := make(map[int]string)
	total := 0
	for n, v := range jar {
		suffix, ok := strings.CutPrefix(n, name+".")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(suffix)
		if err != nil || i < 0 || suffix != strconv.Itoa(i) {
			continue
		}
		chunks[i] = v
		total += len(v)
	}

	switch {
	case len(chunks) == 0:
		return whole, nil
	case hasWhole:
		return "", fmt.Errorf("%w: cookie %s is present both whole and in %d chunks",
			ErrInvalid, name, len(chunks))
	case total > maxTokenBytes:
		return "", fmt.Errorf("%w: cookie %s chunks hold %d bytes, limit %d",
			ErrInvalid, name, total, maxTokenBytes)
	}

	var b strings.Builder
	b.Grow(total)
	for i := range len(chunks) {
		v, ok := chunks[i]
		if !ok {
			return "", fmt.Errorf("%w: cookie %s has %d chunks but no chunk %d",
				ErrInvalid, name, len(chunks), i)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// bearerToken reads "Authorization: Bearer <token>", percent-decoding the token as the
// libraries' getToken does. It returns "" when there is no bearer header.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	token, err := url.PathUnescape(strings.TrimSpace(rest))
	if err != nil {
		return "", fmt.Errorf("%w: bearer token is not percent-encoded correctly", ErrInvalid)
	}
	return token, nil
}
