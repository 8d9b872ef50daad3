package tests

import (
	"net/http"
	"strings"
	"testing"
)

// POST /api/secrets takes exactly the documented keys, each once, in one JSON object,
// and says which key or value is wrong. encoding/json on its own would store {"TITLE"}
// as the title, keep the last of two titles and read null as {}.
func TestHTTPStrictBody(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	cookies := mintCookies(t, sessionClaims("strict-user", "strict@example.com"))
	renamed := func(from, to string) []byte {
		b := secretBody()
		b[to] = b[from]
		delete(b, from)
		return mustJSON(t, b)
	}
	// prefixedTo puts raw members before those of body, a JSON object.
	prefixedTo := func(body []byte, members string) []byte {
		return append([]byte("{"+members+","), body[1:]...)
	}
	prefixed := func(members string) []byte {
		return prefixedTo(mustJSON(t, secretBody()), members)
	}
	// with sets field to a raw JSON value encoding/json cannot produce from a Go value.
	with := func(field, raw string) []byte {
		b := secretBody()
		delete(b, field)
		return prefixedTo(mustJSON(t, b), `"`+field+`":`+raw)
	}

	cases := []struct {
		name    string
		body    []byte
		field   string
		message string
	}{
		{"UpperCaseKey", renamed("title", "TITLE"), "TITLE",
			`unknown field "TITLE"; field names are case-sensitive, did you mean "title"?`},
		{"MixedCaseKey", renamed("check_in_days", "Check_In_Days"), "Check_In_Days",
			`unknown field "Check_In_Days"; field names are case-sensitive, ` +
				`did you mean "check_in_days"?`},
		{"DuplicateKey", prefixed(`"title":"Another letter"`), "title",
			`field "title" appears more than once; send it once`},
		{"DuplicateKeyEscaped", prefixed(`"\u0074itle":"Another letter"`), "title",
			`field "title" appears more than once; send it once`},
		{"DuplicateOfAbsentDefault", prefixed(`"sss_threshold":2,"sss_threshold":3`),
			"sss_threshold", `field "sss_threshold" appears more than once; send it once`},
		{"NullBody", []byte(`null`), "", "the body must be a JSON object, got null"},
		{"EmptyBody", []byte(``), "", "the body must be a JSON object, got nothing"},
		{"StringBody", []byte(`"title"`), "", "the body must be a JSON object, got a string"},
		{"NumberBody", []byte(`30`), "", "the body must be a JSON object, got a number"},
		{"ObjectThenMore", append(mustJSON(t, secretBody()), []byte(` null`)...), "",
			"the body must hold exactly one JSON object, and nothing after it"},
		{"CheckInDaysOverflow", with("check_in_days", `99999999999999999999`), "check_in_days",
			"check_in_days must be an integer in 2..3650, got 99999999999999999999"},
		{"CheckInDaysNegativeOverflow", with("check_in_days", `-99999999999999999999`),
			"check_in_days",
			"check_in_days must be an integer in 2..3650, got -99999999999999999999"},
		{"CheckInDaysFraction", with("check_in_days", `30.5`), "check_in_days",
			"check_in_days must be an integer in 2..3650, got 30.5"},
		{"CheckInDaysString", with("check_in_days", `"30"`), "check_in_days",
			"check_in_days must be an integer in 2..3650, got a JSON string"},
		{"SharesOverflow", with("sss_shares_total", `1e30`), "sss_shares_total",
			"sss_shares_total must be an integer in 2..10, got 1e30"},
		{"TitleNumber", with("title", `5`), "title", "title must be a string, got a JSON number"},
		{"TitleObject", with("title", `{"text":"x"}`), "title",
			"title must be a string, got a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := api.mustDo(t, apiRequest{Method: http.MethodPost, Path: "/api/secrets",
				Body: tc.body, Cookies: cookies})

			e := requireError(t, resp, http.StatusBadRequest, "invalid_input", tc.field)
			if e.Error.Message != tc.message {
				t.Fatalf("message = %q, want %q", e.Error.Message, tc.message)
			}
			requireNoRows(t, api.DB)
		})
	}
}

// The body is JSON, which is UTF-8: a Content-Type naming another charset is refused
// before the body is read, rather than decoded as if it were UTF-8.
func TestHTTPBodyCharset(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	cookies := mintCookies(t, sessionClaims("charset-user", "charset@example.com"))
	body := mustJSON(t, secretBody())
	post := func(t *testing.T, ct string) apiResponse {
		t.Helper()
		return api.mustDo(t, apiRequest{Method: http.MethodPost, Path: "/api/secrets",
			Body: body, ContentType: ct, Cookies: cookies})
	}

	refused := []struct{ name, ct string }{
		{"Latin1", "application/json; charset=latin1"},
		{"ISO88591", "application/json; charset=ISO-8859-1"},
		{"UTF16", "application/json; charset=utf-16"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, tc.ct)

			e := requireError(t, resp, http.StatusUnsupportedMediaType,
				"unsupported_media_type", "")
			if !strings.Contains(e.Error.Message, "UTF-8 JSON") {
				t.Fatalf("message %q does not say the body must be UTF-8 JSON",
					e.Error.Message)
			}
			requireNoRows(t, api.DB)
		})
	}

	for i, ct := range []string{
		"application/json; charset=utf-8",
		"application/json;charset=UTF-8",
		"application/json",
	} {
		resp := post(t, ct)
		requireCreated(t, resp)
		if n := apiCount(t, api.DB, "SELECT count(*) FROM public.secrets"); n != i+1 {
			t.Fatalf("after Content-Type %q: %d secrets, want %d", ct, n, i+1)
		}
	}
}
