package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/secretsdb/secretsdb/internal/secrets"
)

// intRanges are the integer fields of request bodies with their documented limits, so
// that a value encoding/json cannot store (30.5, 1e3, 99999999999999999999) is refused
// with the same limit the validation names.
var intRanges = map[string][2]int{
	"check_in_days":    {secrets.MinCheckInDays, secrets.MaxCheckInDays},
	"sss_shares_total": {secrets.MinShares, secrets.MaxShares},
	"sss_threshold":    {secrets.MinShares, secrets.MaxShares},
}

// maxShown bounds how much of a caller's key or number an error message repeats.
const maxShown = 64

// bodyError is a refused body: a 400 invalid_input naming field when it is known.
type bodyError struct {
	msg, field string
}

// decodeBody reads one JSON object into v, a pointer to a struct whose json tags are
// the documented field names. It answers 415 for another content type or a charset
// other than UTF-8, 413 past MaxBodyBytes, and 400 for anything but a single object
// whose keys are those names exactly, each at most once, with values of the right type.
//
// encoding/json alone would take {"TITLE": ...} as title, keep the last of two equal
// keys, and treat null as {}: a client bug would then store something other than what
// it meant to send, so the keys are checked before the values are decoded.
func (h *Handler) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if msg := checkContentType(r.Header.Get("Content-Type")); msg != "" {
		writeError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", msg, "")
		return false
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("the body must be at most %d bytes (%d KiB)",
					MaxBodyBytes, MaxBodyBytes>>10), "")
			return false
		}
		writeError(w, r, http.StatusBadRequest, "invalid_body", "the body could not be read", "")
		return false
	}

	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; refuse it instead, and
	// name the field it is in when the body is otherwise an object.
	if !utf8.Valid(body) {
		writeError(w, r, http.StatusBadRequest, "invalid_input",
			"the body must be valid UTF-8", invalidUTF8Field(body))
		return false
	}
	if be := scanObject(body, jsonFields(v)); be != nil {
		writeError(w, r, http.StatusBadRequest, "invalid_input", be.msg, be.field)
		return false
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		be := describeJSONError(err)
		writeError(w, r, http.StatusBadRequest, "invalid_input", be.msg, be.field)
		return false
	}
	return true
}

// checkContentType returns why a Content-Type is refused, or "" when it is JSON in UTF-8
// (JSON has no other encoding since RFC 8259; "utf8" is a common alias).
func checkContentType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return "send the body as Content-Type: application/json"
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") &&
		!strings.EqualFold(cs, "utf8") {
		return fmt.Sprintf("the body must be UTF-8 JSON; send Content-Type: "+
			"application/json or application/json; charset=utf-8, got charset %q", shorten(cs))
	}
	return ""
}

// scanObject checks the body's shape and keys without decoding values: exactly one JSON
// object, every key one of fields spelled exactly, none twice. Problems are reported in
// the order they appear in the body.
func scanObject(body []byte, fields map[string]bool) *bodyError {
	if be := checkSyntax(body); be != nil {
		return be
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return errNotJSON
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &bodyError{msg: "the body must be a JSON object, got " + tokenKind(tok)}
	}

	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errNotJSON
		}
		key, _ := tok.(string)
		if !fields[key] {
			return unknownField(key, fields)
		}
		if seen[key] {
			return &bodyError{
				msg:   fmt.Sprintf("field %q appears more than once; send it once", key),
				field: key,
			}
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return errNotJSON
		}
	}
	return nil
}

func unknownField(key string, fields map[string]bool) *bodyError {
	shown := shorten(key)
	for name := range fields {
		if strings.EqualFold(name, key) {
			return &bodyError{
				msg: fmt.Sprintf("unknown field %q; field names are case-sensitive, "+
					"did you mean %q?", shown, name),
				field: shown,
			}
		}
	}
	return &bodyError{msg: fmt.Sprintf("unknown field %q", shown), field: shown}
}

// checkSyntax refuses a body that is not exactly one JSON value. The whole-body parse
// knows the offset of the first bad byte, which a token-by-token scan reports poorly.
func checkSyntax(body []byte) *bodyError {
	if json.Valid(body) {
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &bodyError{msg: "the body must be a JSON object, got nothing"}
	}
	var se *json.SyntaxError
	err := json.Unmarshal(body, new(json.RawMessage))
	switch {
	case !errors.As(err, &se):
		return &bodyError{msg: "the body is not valid JSON"}
	case strings.Contains(se.Error(), "after top-level value"):
		return &bodyError{msg: "the body must hold exactly one JSON object, and nothing after it"}
	case strings.Contains(se.Error(), "unexpected end"):
		return &bodyError{msg: "the body is not valid JSON: it ends early"}
	}
	return &bodyError{msg: fmt.Sprintf("the body is not valid JSON (at byte %d)", se.Offset)}
}

// errNotJSON answers a token error after checkSyntax passed, which should not happen.
var errNotJSON = &bodyError{msg: "the body is not valid JSON"}

// tokenKind names the JSON type of a top-level token that is not an object.
func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if t == '[' {
			return "an array"
		}
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%v", tok)
}

// jsonFields returns the json names of the struct v points to.
func jsonFields(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	out := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// describeJSONError explains a value of the wrong JSON type. The keys are already
// checked, so that is the only error left to expect.
func describeJSONError(err error) *bodyError {
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) || typeErr.Field == "" {
		return &bodyError{msg: "the body must be a JSON object with the documented fields"}
	}
	field := typeErr.Field

	// Value is "number 30.5" for a number the field cannot hold, else the JSON type.
	got := "a JSON " + typeErr.Value
	if lit, ok := strings.CutPrefix(typeErr.Value, "number "); ok {
		got = shorten(lit)
	} else if typeErr.Value == "bool" {
		got = "a JSON boolean"
	}
	if lim, ok := intRanges[field]; ok {
		return &bodyError{
			msg:   fmt.Sprintf("%s must be an integer in %d..%d, got %s", field, lim[0], lim[1], got),
			field: field,
		}
	}
	return &bodyError{msg: fmt.Sprintf("%s must be a string, got %s", field, got), field: field}
}

// invalidUTF8Field returns the top-level field whose raw value holds invalid UTF-8.
func invalidUTF8Field(body []byte) string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return ""
	}
	for k, v := range raw {
		if !utf8.Valid(v) {
			return k
		}
	}
	return ""
}

// shorten cuts s to maxShown bytes on a rune boundary, marking the cut.
func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
