package session

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Claims is what the service learns about the signed-in user from a session token.
// String fields are exactly as in the token: the email in particular is not trimmed or
// lower-cased here, because normalisation lives in the database routines so that every
// caller gets the same result.
type Claims struct {
	// UserID is the "id" claim when the app put a non-empty one there (a jwt callback
	// copying the database user id), else "sub". Ids are opaque strings: a provider's
	// 21-digit subject does not fit an integer and must never pass through a float.
	UserID string
	// Email is the "email" claim, or "" when absent or null.
	Email string
	// Name is the "name" claim, or "" when absent or null.
	Name string
	// Picture is the "picture" claim (the user's image URL), or "" when absent or null.
	Picture string
	// EmailVerified is the "email_verified" claim when present and true. Neither
	// library sets it by default; an app may copy it from the provider's profile.
	EmailVerified bool
	// ExpiresAt is "exp". Every token the libraries mint has one, so it is required.
	ExpiresAt time.Time
	// IssuedAt is "iat", or the zero time when absent.
	IssuedAt time.Time
	// NotBefore is "nbf", or the zero time when absent (the libraries never set it).
	NotBefore time.Time
}

// maxUnixSeconds is 9999-12-31T23:59:59Z; later timestamps are garbage, not sessions.
const maxUnixSeconds = 253402300799

// parseClaims reads a decrypted payload. It decodes into raw JSON values by exact,
// case-sensitive name, as JSON.parse does, and then checks each claim's JSON type before
// converting it, so a number never stands in for a string id.
func parseClaims(payload []byte) (Claims, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not a JSON object", ErrInvalid)
	}

	var c Claims
	sub, err := optionalString(raw, "sub")
	if err != nil {
		return Claims{}, err
	}
	id, err := optionalString(raw, "id")
	if err != nil {
		return Claims{}, err
	}
	c.UserID = sub
	if id != "" {
		c.UserID = id
	}
	if c.UserID == "" {
		return Claims{}, &ClaimError{Claim: "sub", Want: "a non-empty string", Got: "nothing"}
	}

	if c.Email, err = optionalString(raw, "email"); err != nil {
		return Claims{}, err
	}
	if c.Name, err = optionalString(raw, "name"); err != nil {
		return Claims{}, err
	}
	if c.Picture, err = optionalString(raw, "picture"); err != nil {
		return Claims{}, err
	}
	if c.EmailVerified, err = optionalBool(raw, "email_verified"); err != nil {
		return Claims{}, err
	}

	if _, ok := raw["exp"]; !ok {
		return Claims{}, &ClaimError{Claim: "exp", Want: "a number", Got: "nothing"}
	}
	if c.ExpiresAt, err = optionalTime(raw, "exp"); err != nil {
		return Claims{}, err
	}
	if c.IssuedAt, err = optionalTime(raw, "iat"); err != nil {
		return Claims{}, err
	}
	if c.NotBefore, err = optionalTime(raw, "nbf"); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// jsonKind names the JSON type of an already validated value by its first byte.
func jsonKind(v json.RawMessage) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "number"
}

// optionalString returns "" for an absent or null claim; the libraries' default token
// writes null for a missing name or picture.
func optionalString(raw map[string]json.RawMessage, name string) (string, error) {
	v, ok := raw[name]
	if !ok {
		return "", nil
	}
	switch kind := jsonKind(v); kind {
	case "null":
		return "", nil
	case "string":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", &ClaimError{Claim: name, Want: "a string", Got: "malformed string"}
		}
		return s, nil
	default:
		return "", &ClaimError{Claim: name, Want: "a string", Got: kind}
	}
}

func optionalBool(raw map[string]json.RawMessage, name string) (bool, error) {
	v, ok := raw[name]
	if !ok {
		return false, nil
	}
	switch kind := jsonKind(v); kind {
	case "null":
		return false, nil
	case "boolean":
		return v[0] == 't', nil
	default:
		return false, &ClaimError{Claim: name, Want: "a boolean", Got: kind}
	}
}

// optionalTime reads a NumericDate. Like jose, which the libraries use, it refuses null
// and non-numbers when the claim is present, and accepts fractional seconds.
func optionalTime(raw map[string]json.RawMessage, name string) (time.Time, error) {
	v, ok := raw[name]
	if !ok {
		return time.Time{}, nil
	}
	if kind := jsonKind(v); kind != "number" {
		return time.Time{}, &ClaimError{Claim: name, Want: "a number", Got: kind}
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return time.Time{}, &ClaimError{Claim: name, Want: "a number", Got: "malformed number"}
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > maxUnixSeconds {
			return time.Time{}, fmt.Errorf("%w: claim %s must be 0..%d, got %d",
				ErrInvalid, name, maxUnixSeconds, i)
		}
		return time.Unix(i, 0), nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > maxUnixSeconds {
		return time.Time{}, fmt.Errorf("%w: claim %s must be 0..%d, got %s",
			ErrInvalid, name, maxUnixSeconds, n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}
