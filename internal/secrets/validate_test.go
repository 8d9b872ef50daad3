package secrets

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsdb/secretsdb/internal/dbq"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

func validSession() Session {
	return Session{UserID: "103890241628354500674", Email: "jordan.lee@example.com"}
}

func validSecret() NewSecret {
	return NewSecret{
		Title:          "Letter to Alex",
		RecipientName:  "Alex Morgan",
		RecipientEmail: "alex.morgan@example.net",
		ContactMethod:  DefaultContactMethod,
		CheckInDays:    DefaultCheckInDays,
		ServerShare:    "c2hhcmU=",
		SharesTotal:    DefaultSharesTotal,
		Threshold:      DefaultThreshold,
	}
}

// verdict is the field of the first error, "" for none, or "?" for an error of another
// kind than invalid input.
func verdict(err error) string {
	var ie *InputError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ie):
		return ie.Field
	}
	return "?"
}

// Go's early checks and the SQL routine give the same answer to the same input: the same
// first failing field, or both accept. Every input is sent to create_secret as the Service
// sends it, past the Go checks, in a transaction that is rolled back.
func TestValidationMatchesSQL(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	long := func(n int) string { return strings.Repeat("é", n) }
	type change func(*Session, *NewSecret)
	cases := []struct {
		name   string
		change change
	}{
		{"Valid", func(*Session, *NewSecret) {}},
		{"TitleEmpty", func(_ *Session, n *NewSecret) { n.Title = "" }},
		{"TitleBlank", func(_ *Session, n *NewSecret) { n.Title = " \t\v\f\r\n" }},
		{"TitleAtLimit", func(_ *Session, n *NewSecret) { n.Title = long(MaxTitleLen) }},
		{"TitleOverLimit", func(_ *Session, n *NewSecret) { n.Title = long(MaxTitleLen + 1) }},
		{"TitleTab", func(_ *Session, n *NewSecret) { n.Title = "a\tb" }},
		{"TitleDEL", func(_ *Session, n *NewSecret) { n.Title = "a\x7fb" }},
		{"TitleC1Control", func(_ *Session, n *NewSecret) { n.Title = "a\u0085b" }},
		{"TitleZeroWidthSpace", func(_ *Session, n *NewSecret) { n.Title = "a\u200bb" }},
		{"TitleLetterV", func(_ *Session, n *NewSecret) { n.Title = "v" }},
		{"RecipientNameEmpty", func(_ *Session, n *NewSecret) { n.RecipientName = "" }},
		{"RecipientEmailTrimmed", func(_ *Session, n *NewSecret) {
			n.RecipientEmail = "  Alex@Example.NET \t"
		}},
		{"RecipientEmailTwoAts", func(_ *Session, n *NewSecret) { n.RecipientEmail = "a@b@c" }},
		{"RecipientEmailSpace", func(_ *Session, n *NewSecret) { n.RecipientEmail = "a b@c" }},
		{"RecipientEmailNoLocal", func(_ *Session, n *NewSecret) { n.RecipientEmail = "@c" }},
		{"RecipientEmailOverLimit", func(_ *Session, n *NewSecret) {
			n.RecipientEmail = strings.Repeat("a", 250) + "@b.cd"
		}},
		{"RecipientEmailMissing", func(_ *Session, n *NewSecret) { n.RecipientEmail = "" }},
		{"PhoneValid", func(_ *Session, n *NewSecret) {
			n.ContactMethod, n.RecipientPhone = "phone", "+1 (555) 010-0100"
		}},
		{"PhoneLetters", func(_ *Session, n *NewSecret) { n.RecipientPhone = "call me" }},
		{"PhoneTooShort", func(_ *Session, n *NewSecret) { n.RecipientPhone = "12" }},
		{"PhoneOverLimit", func(_ *Session, n *NewSecret) {
			n.RecipientPhone = strings.Repeat("1", MaxRecipientPhoneLen+1)
		}},
		{"PhoneMissing", func(_ *Session, n *NewSecret) { n.ContactMethod = "both" }},
		{"ContactMethodUpper", func(_ *Session, n *NewSecret) { n.ContactMethod = "EMAIL" }},
		{"ContactMethodEmpty", func(_ *Session, n *NewSecret) { n.ContactMethod = "" }},
		{"ShareOverLimit", func(_ *Session, n *NewSecret) {
			n.ServerShare = strings.Repeat("s", MaxServerShareLen+1)
		}},
		{"ShareAtLimit", func(_ *Session, n *NewSecret) {
			n.ServerShare = strings.Repeat("s", MaxServerShareLen)
		}},
		{"IVOverLimit", func(_ *Session, n *NewSecret) { n.IV = long(MaxIVLen + 1) }},
		{"AuthTagControl", func(_ *Session, n *NewSecret) { n.AuthTag = "\x01" }},
		{"DaysLow", func(_ *Session, n *NewSecret) { n.CheckInDays = MinCheckInDays - 1 }},
		{"DaysHigh", func(_ *Session, n *NewSecret) { n.CheckInDays = MaxCheckInDays + 1 }},
		{"DaysNegative", func(_ *Session, n *NewSecret) { n.CheckInDays = -30 }},
		{"SharesLow", func(_ *Session, n *NewSecret) { n.SharesTotal = 1 }},
		{"SharesHigh", func(_ *Session, n *NewSecret) { n.SharesTotal, n.Threshold = 11, 2 }},
		{"ThresholdLow", func(_ *Session, n *NewSecret) { n.Threshold = 1 }},
		{"ThresholdOverTotal", func(_ *Session, n *NewSecret) { n.Threshold = 4 }},
		{"ThresholdAtTotal", func(_ *Session, n *NewSecret) { n.SharesTotal, n.Threshold = 10, 10 }},
		{"TwoErrors", func(_ *Session, n *NewSecret) { n.Title, n.CheckInDays = "", 0 }},
		{"UserIDEmpty", func(s *Session, _ *NewSecret) { s.UserID = "" }},
		{"UserIDLeadingZeros", func(s *Session, _ *NewSecret) { s.UserID = "00123" }},
		{"UserIDOverLimit", func(s *Session, _ *NewSecret) { s.UserID = long(MaxUserIDLen + 1) }},
		{"UserIDControl", func(s *Session, _ *NewSecret) { s.UserID = "a\x1bb" }},
		{"EmailBlank", func(s *Session, _ *NewSecret) { s.Email = " \n" }},
		{"EmailMixedCase", func(s *Session, _ *NewSecret) { s.Email = " Jordan.Lee@Example.COM " }},
		{"EmailNonASCII", func(s *Session, _ *NewSecret) { s.Email = "ÅSA@Exämple.com" }},
		{"EmailNoBreakSpace", func(s *Session, _ *NewSecret) { s.Email = "r\u00a0x@example.org" }},
		{"EmailZeroWidth", func(s *Session, _ *NewSecret) { s.Email = "a@c.com\u200b" }},
		{"UserIDNoBreakSpaces", func(s *Session, _ *NewSecret) { s.UserID = "\u00a0\u3000" }},
		{"UserIDBidiOverride", func(s *Session, _ *NewSecret) { s.UserID = "ab\u202ecd" }},
		{"RecipientEmailZeroWidth", func(_ *Session, n *NewSecret) {
			n.RecipientEmail = "r@example.org\ufeff"
		}},
		{"NameBlank", func(s *Session, _ *NewSecret) { s.Name = "   " }},
		{"NameOverLimit", func(s *Session, _ *NewSecret) { s.Name = long(MaxNameLen + 1) }},
		{"NameNewline", func(s *Session, _ *NewSecret) { s.Name = "Ada\nLovelace" }},
		{"ImageAtLimit", func(s *Session, _ *NewSecret) { s.Image = long(MaxImageLen) }},
		{"ImageOverLimit", func(s *Session, _ *NewSecret) { s.Image = long(MaxImageLen + 1) }},
		{"ProviderOverLimit", func(s *Session, _ *NewSecret) {
			s.Provider = long(MaxProviderLen + 1)
		}},
		{"SecretAndSessionBad", func(s *Session, n *NewSecret) { s.Email, n.IV = "", "\x02" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sess, n := validSession(), validSecret()
			tc.change(&sess, &n)

			goErr := validateSecret(n)
			if goErr == nil {
				goErr = validateSession(sess)
			}
			tx, err := db.Pool.Begin(testCtx(t))
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			defer func() { _ = tx.Rollback(testCtx(t)) }()
			row, sqlErr := dbq.New(tx).CreateSecret(testCtx(t), createSecretParams(sess, n, false))

			if g, s := verdict(goErr), verdict(mapError(sqlErr)); g != s {
				t.Fatalf("Go says %q (%v), SQL says %q (%v)", g, goErr, s, sqlErr)
			}
			if sqlErr != nil {
				return
			}
			stored := storedEmail(t, tx, row.UserID.String)
			want, err := normalizeEmail("email", sess.Email, true)
			if err != nil || want == nil {
				t.Fatalf("Go refused email %q that SQL stored: %v", sess.Email, err)
			}
			if stored != *want {
				t.Fatalf("SQL stored email %q, Go normalises it to %q", stored, *want)
			}
		})
	}
}

func storedEmail(t *testing.T, tx pgx.Tx, id string) string {
	t.Helper()
	var email string
	err := tx.QueryRow(testCtx(t), `SELECT email FROM public.users WHERE id = $1`, id).
		Scan(&email)
	if err != nil {
		t.Fatalf("loading user %q: %v", id, err)
	}
	return email
}
