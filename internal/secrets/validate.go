package secrets

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the SQL API (migrations/00003_input_checks.sql and 00005_sql_api.sql). Go
// checks them first to answer without a round trip; the routines check them again, and
// tests hold the two to the same answers.
const (
	MaxUserIDLen         = 255
	MaxEmailLen          = 254
	MaxNameLen           = 256
	MaxImageLen          = 2048
	MaxProviderLen       = 64
	MaxTitleLen          = 256
	MaxRecipientNameLen  = 256
	MaxRecipientPhoneLen = 32
	MaxServerShareLen    = 16384
	MaxIVLen             = 256
	MaxAuthTagLen        = 256
	MinCheckInDays       = 2
	MaxCheckInDays       = 3650
	MinShares            = 2
	MaxShares            = 10
)

var (
	emailPattern = regexp.MustCompile(`^[^@\s\p{Cc}]+@[^@\s\p{Cc}]+$`)
	// invisible matches the spaces and format marks (U+00A0, U+200B, U+202E, ...) that
	// would make two ids or emails look alike; the SQL side refuses the same set.
	invisible = regexp.MustCompile(
		"[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]")
	phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{2,31}$`)
	uuidPattern  = regexp.MustCompile(
		`^(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$`)
)

// spaceCutset is what the SQL side trims: btrim(x, E' \t\n\r\f\x0B').
const spaceCutset = " \t\n\r\f\v"

func invalid(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Message: field + " " + fmt.Sprintf(format, args...)}
}

// checkText applies the SQL side's secretsdb_check_text: required or empty-to-nil, a
// length limit in characters, and no control characters. It also refuses what PostgreSQL
// cannot store at all: invalid UTF-8 and NUL bytes.
func checkText(field, value string, maxLen int, required bool) (*string, error) {
	if !utf8.ValidString(value) {
		return nil, invalid(field, "must be valid UTF-8")
	}
	if strings.Trim(value, spaceCutset) == "" {
		if required {
			return nil, invalid(field, "is required and must not be empty")
		}
		return nil, nil
	}
	if n := utf8.RuneCountInString(value); n > maxLen {
		return nil, invalid(field, "must be at most %d characters, got %d", maxLen, n)
	}
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return nil, invalid(field, "must not contain control characters")
	}
	return &value, nil
}

// normalizeEmail applies secretsdb_normalize_email: trimmed, lower-cased, name@domain.
func normalizeEmail(field, value string, required bool) (*string, error) {
	if !utf8.ValidString(value) {
		return nil, invalid(field, "must be valid UTF-8")
	}
	email := strings.ToLower(strings.Trim(value, spaceCutset))
	if email == "" {
		if required {
			return nil, invalid(field, "is required and must not be empty")
		}
		return nil, nil
	}
	if n := utf8.RuneCountInString(email); n > MaxEmailLen {
		return nil, invalid(field, "must be at most %d characters, got %d", MaxEmailLen, n)
	}
	if !emailPattern.MatchString(email) {
		return nil, invalid(field, "must be an address of the form name@domain, got %q", email)
	}
	if invisible.MatchString(email) {
		return nil, invalid(field,
			"must not contain invisible or formatting characters such as U+00A0 or U+200B")
	}
	return &email, nil
}

// validateSession checks the session's claims as ensure_user does.
func validateSession(s Session) error {
	if _, err := checkText("user_id", s.UserID, MaxUserIDLen, true); err != nil {
		return err
	}
	if invisible.MatchString(s.UserID) {
		return invalid("user_id",
			"must not contain invisible or formatting characters such as U+00A0 or U+200B")
	}
	if _, err := normalizeEmail("email", s.Email, true); err != nil {
		return err
	}
	if _, err := checkText("name", s.Name, MaxNameLen, false); err != nil {
		return err
	}
	if _, err := checkText("image", s.Image, MaxImageLen, false); err != nil {
		return err
	}
	_, err := checkText("provider", s.Provider, MaxProviderLen, false)
	return err
}

// validateSecret checks a new secret's fields as create_secret does, in the same order,
// so both report the same first error.
func validateSecret(n NewSecret) error {
	texts := []struct {
		field    string
		value    string
		max      int
		required bool
	}{
		{"title", n.Title, MaxTitleLen, true},
		{"recipient_name", n.RecipientName, MaxRecipientNameLen, true},
	}
	for _, f := range texts {
		if _, err := checkText(f.field, f.value, f.max, f.required); err != nil {
			return err
		}
	}
	recipientEmail, err := normalizeEmail("recipient_email", n.RecipientEmail, false)
	if err != nil {
		return err
	}
	phone, err := checkText("recipient_phone", n.RecipientPhone, MaxRecipientPhoneLen, false)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		field    string
		value    string
		max      int
		required bool
	}{
		{"server_share", n.ServerShare, MaxServerShareLen, true},
		{"iv", n.IV, MaxIVLen, false},
		{"auth_tag", n.AuthTag, MaxAuthTagLen, false},
	} {
		if _, err := checkText(f.field, f.value, f.max, f.required); err != nil {
			return err
		}
	}
	if phone != nil && !phonePattern.MatchString(*phone) {
		return invalid("recipient_phone",
			"must be digits with an optional leading +, got %q", *phone)
	}

	method := n.ContactMethod
	switch method {
	case "email", "phone", "both":
	default:
		return invalid("contact_method", "must be one of email, phone, both, got %q", method)
	}
	if (method == "email" || method == "both") && recipientEmail == nil {
		return invalid("recipient_email", "is required when contact_method is %s", method)
	}
	if (method == "phone" || method == "both") && phone == nil {
		return invalid("recipient_phone", "is required when contact_method is %s", method)
	}

	days, total, threshold := n.CheckInDays, n.SharesTotal, n.Threshold
	if days < MinCheckInDays || days > MaxCheckInDays {
		return invalid("check_in_days", "must be %d..%d, got %d",
			MinCheckInDays, MaxCheckInDays, days)
	}
	if total < MinShares || total > MaxShares {
		return invalid("sss_shares_total", "must be %d..%d, got %d", MinShares, MaxShares, total)
	}
	if threshold < MinShares || threshold > total {
		return invalid("sss_threshold", "must be %d..sss_shares_total (%d), got %d",
			MinShares, total, threshold)
	}
	return nil
}

// validateSecretID checks a secret id as record_check_in does.
func validateSecretID(id string) error {
	if !uuidPattern.MatchString(id) {
		shown := id
		if len(shown) > 64 {
			shown = shown[:64]
		}
		return invalid("secret_id", "must be a UUID, got %q", strings.ToValidUTF8(shown, "\uFFFD"))
	}
	return nil
}
