package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// TestSQLCreateSecretProvisionsSessionUser covers C01: a session whose user was never
// stored used to fail on secrets_user_id_users_id_fk. One CALL now stores the user and the
// secret together, and the user can check in straight away.
func TestSQLCreateSecretProvisionsSessionUser(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	// The failure as it was: a bare insert for the session's id breaks the foreign key.
	_, err := db.Pool.Exec(queryCtx(t), `
		INSERT INTO public.secrets (user_id, title, recipient_name, recipient_email,
			server_share)
		VALUES ($1, 'Letter', 'Alex', 'alex@example.net', 'share')`, googleSubject)
	_ = requireSQLState(t, err, "23503", "")

	s, err := callCreateSecret(queryCtx(t), db.Pool, args{"p_email": "  Jordan.Lee@Example.COM "})
	if err != nil {
		t.Fatalf("create_secret for a session user absent from users: %v", err)
	}

	if s.UserID != googleSubject || s.Outcome != "created" || s.SecretID == "" {
		t.Fatalf("create_secret = %+v, want a secret of new user %s", s, googleSubject)
	}
	var sameTx bool
	var email string
	err = db.Pool.QueryRow(queryCtx(t), `
		SELECT u.xmin::text = s.xmin::text, u.email
		FROM public.secrets s JOIN public.users u ON u.id = s.user_id
		WHERE s.id = $1`, s.SecretID).Scan(&sameTx, &email)
	if err != nil {
		t.Fatalf("loading the secret and its user: %v", err)
	}
	if !sameTx {
		t.Error("user and secret were written by different transactions")
	}
	if email != jordanEmail {
		t.Errorf("stored email = %q, want %q", email, jordanEmail)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.users"); n != 1 {
		t.Errorf("users holds %d rows, want 1", n)
	}

	t.Run("CheckInAfterwards", func(t *testing.T) {
		c, err := callRecordCheckIn(queryCtx(t), db.Pool, args{"p_secret_id": s.SecretID})
		if err != nil {
			t.Fatalf("record_check_in: %v", err)
		}

		if c.UserID != googleSubject || c.Outcome != "existing" {
			t.Errorf("record_check_in = %+v, want existing user %s", c, googleSubject)
		}
		if want := c.CheckedInAt.Add(30 * 24 * time.Hour); !c.NextCheckIn.Equal(want) {
			t.Errorf("next_check_in = %v, want %v", c.NextCheckIn, want)
		}
		var last, next time.Time
		err = db.Pool.QueryRow(queryCtx(t),
			"SELECT last_check_in, next_check_in FROM public.secrets WHERE id = $1",
			s.SecretID).Scan(&last, &next)
		if err != nil {
			t.Fatal(err)
		}
		if !last.Equal(c.CheckedInAt) || !next.Equal(c.NextCheckIn) || next.Equal(s.NextCheckIn) {
			t.Errorf("secret has last %v next %v; want last %v next %v (was %v)",
				last, next, c.CheckedInAt, c.NextCheckIn, s.NextCheckIn)
		}
		n := countRows(t, db.Pool, `
			SELECT count(*) FROM public.checkin_history
			WHERE secret_id = $1 AND user_id = $2 AND checked_in_at = $3`,
			s.SecretID, googleSubject, c.CheckedInAt)
		if n != 1 {
			t.Errorf("checkin_history rows for the check-in = %d, want 1", n)
		}
	})
}

// TestSQLCreateSecretStoresInputs checks that what the caller passed is what is stored,
// with the recipient's address normalised like a user's.
func TestSQLCreateSecretStoresInputs(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	s := mustCreateSecret(t, db.Pool, args{
		"p_title":            "Keys",
		"p_recipient_email":  " Alex.Morgan@Example.NET",
		"p_recipient_phone":  "+1 (555) 010-0199",
		"p_contact_method":   "both",
		"p_check_in_days":    7,
		"p_iv":               "aXY=",
		"p_auth_tag":         "dGFn",
		"p_sss_shares_total": 5,
		"p_sss_threshold":    3,
	})

	var (
		title, recipient, phone, method, status, share string
		days, total, threshold                         int
		created                                        time.Time
	)
	err := db.Pool.QueryRow(queryCtx(t), `
		SELECT title, recipient_email, recipient_phone, contact_method::text, status::text,
			server_share, check_in_days, sss_shares_total, sss_threshold, created_at
		FROM public.secrets WHERE id = $1`, s.SecretID).
		Scan(&title, &recipient, &phone, &method, &status, &share, &days, &total,
			&threshold, &created)
	if err != nil {
		t.Fatal(err)
	}
	if title != "Keys" || recipient != "alex.morgan@example.net" || phone != "+1 (555) 010-0199" ||
		method != "both" || status != "active" || share != testShare {
		t.Errorf("stored title %q recipient %q phone %q method %q status %q share %q",
			title, recipient, phone, method, status, share)
	}
	if days != 7 || total != 5 || threshold != 3 {
		t.Errorf("stored days %d shares %d threshold %d, want 7 5 3", days, total, threshold)
	}
	if want := created.Add(7 * 24 * time.Hour); !s.NextCheckIn.Equal(want) {
		t.Errorf("next_check_in = %v, want created_at + 168h = %v", s.NextCheckIn, want)
	}
}

// TestSQLCreateSecretDBATriggerFails covers C10: a trigger a DBA adds to users aborts the
// whole call, with its own SQLSTATE and message, and leaves neither user nor secret.
func TestSQLCreateSecretDBATriggerFails(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	mustExec(t, db.Pool, `
		CREATE FUNCTION public.pause_signups() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			RAISE EXCEPTION 'signup paused';
		END
		$$`)
	mustExec(t, db.Pool, `
		CREATE TRIGGER pause_signups AFTER INSERT ON public.users
		FOR EACH ROW EXECUTE FUNCTION public.pause_signups()`)

	_, err := callCreateSecret(queryCtx(t), db.Pool, nil)

	pgErr := requireSQLState(t, err, "P0001", "")
	if pgErr.Message != "signup paused" {
		t.Errorf("message = %q, want %q", pgErr.Message, "signup paused")
	}
	requireNothingWritten(t, db.Pool)

	mustExec(t, db.Pool, "DROP TRIGGER pause_signups ON public.users")
	s, err := callCreateSecret(queryCtx(t), db.Pool, nil)
	if err != nil {
		t.Fatalf("same call after dropping the trigger: %v", err)
	}
	if s.Outcome != "created" {
		t.Errorf("outcome = %q, want created", s.Outcome)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.secrets"); n != 1 {
		t.Errorf("secrets holds %d rows, want 1", n)
	}
}

// TestSQLCreateSecretCallerTransaction covers C20: the procedures never commit, so they
// work inside a caller's transaction, which decides what is kept, and in autocommit.
func TestSQLCreateSecretCallerTransaction(t *testing.T) {
	t.Parallel()
	inTx := func(t *testing.T, db *testdb.DB, finish func(context.Context, pgx.Tx) error) {
		t.Helper()
		ctx := queryCtx(t)
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()

		s, err := callCreateSecret(ctx, tx, nil)
		if err != nil {
			t.Fatalf("create_secret in a transaction: %v", err)
		}
		if _, err := callRecordCheckIn(ctx, tx, args{"p_secret_id": s.SecretID}); err != nil {
			t.Fatalf("record_check_in in a transaction: %v", err)
		}
		if err := finish(ctx, tx); err != nil {
			t.Fatalf("ending the transaction: %v", err)
		}
	}
	counts := func(t *testing.T, db *testdb.DB) [3]int {
		t.Helper()
		return [3]int{
			countRows(t, db.Pool, "SELECT count(*) FROM public.users"),
			countRows(t, db.Pool, "SELECT count(*) FROM public.secrets"),
			countRows(t, db.Pool, "SELECT count(*) FROM public.checkin_history"),
		}
	}

	t.Run("Rollback", func(t *testing.T) {
		t.Parallel()
		db := newAPIDB(t)

		inTx(t, db, func(ctx context.Context, tx pgx.Tx) error { return tx.Rollback(ctx) })

		requireNothingWritten(t, db.Pool)
	})

	t.Run("Commit", func(t *testing.T) {
		t.Parallel()
		db := newAPIDB(t)

		inTx(t, db, func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) })

		if got := counts(t, db); got != [3]int{1, 1, 1} {
			t.Errorf("users, secrets, check-ins = %v, want [1 1 1]", got)
		}
	})

	t.Run("Autocommit", func(t *testing.T) {
		t.Parallel()
		db := newAPIDB(t)

		s := mustCreateSecret(t, db.Pool, nil)
		_, err := callRecordCheckIn(queryCtx(t), db.Pool, args{"p_secret_id": s.SecretID})
		if err != nil {
			t.Fatalf("record_check_in: %v", err)
		}

		if got := counts(t, db); got != [3]int{1, 1, 1} {
			t.Errorf("users, secrets, check-ins = %v, want [1 1 1]", got)
		}
	})
}

// TestSQLValidation runs every documented input check. Each failure must be SD001 with the
// field in COLUMN and a message naming the rule, and must write nothing at all.
func TestSQLValidation(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	const secretID = "6f1c1b7e-8a52-4d53-9f43-2f1d8a0c5e11"

	// Fields of the session user are checked by all three routines.
	userCases := []struct {
		name, column, message string
		in                    args
	}{
		{"UserIDEmpty", "user_id", "required", args{"p_user_id": ""}},
		{"UserIDNull", "user_id", "required", args{"p_user_id": nil}},
		{"UserIDTooLong", "user_id", "at most 255",
			args{"p_user_id": strings.Repeat("1", 256)}},
		{"UserIDControlChar", "user_id", "control", args{"p_user_id": "1038\x0790"}},
		{"UserIDOnlyNoBreakSpaces", "user_id", "invisible",
			args{"p_user_id": "\u00a0\u00a0"}},
		{"UserIDBidiOverride", "user_id", "invisible", args{"p_user_id": "abc\u202edef"}},
		{"EmailNoBreakSpace", "email", "invisible", args{"p_email": "r\u00a0x@example.org"}},
		{"EmailZeroWidthSpace", "email", "invisible", args{"p_email": "a@c.com\u200b"}},
		{"EmailBare", "email", "name@domain", args{"p_email": "bad"}},
		{"EmailNoDomain", "email", "name@domain", args{"p_email": "a@"}},
		{"EmailNoName", "email", "name@domain", args{"p_email": "@b"}},
		{"EmailInnerSpace", "email", "name@domain", args{"p_email": "a b@c.d"}},
		{"EmailTwoAts", "email", "name@domain", args{"p_email": "a@b@c.d"}},
		{"EmailTooLong", "email", "at most 254",
			args{"p_email": strings.Repeat("e", 250) + "@x.io"}},
		{"NameTooLong", "name", "at most 256", args{"p_name": strings.Repeat("n", 257)}},
		{"ImageTooLong", "image", "at most 2048", args{"p_image": strings.Repeat("i", 2049)}},
		{"ProviderTooLong", "provider", "at most 64",
			args{"p_provider": strings.Repeat("p", 65)}},
	}
	for _, tc := range userCases {
		t.Run("EnsureUser"+tc.name, func(t *testing.T) {
			in := merged(args{"p_user_id": googleSubject, "p_email": jordanEmail}, tc.in)
			_, err := callEnsureUser(queryCtx(t), db.Pool, in)
			requireInvalid(t, db, err, tc.column, tc.message)
		})
		t.Run("CreateSecret"+tc.name, func(t *testing.T) {
			_, err := callCreateSecret(queryCtx(t), db.Pool, tc.in)
			requireInvalid(t, db, err, tc.column, tc.message)
		})
		t.Run("RecordCheckIn"+tc.name, func(t *testing.T) {
			_, err := callRecordCheckIn(queryCtx(t), db.Pool,
				merged(args{"p_secret_id": secretID}, tc.in))
			requireInvalid(t, db, err, tc.column, tc.message)
		})
	}

	secretCases := []struct {
		name, column, message string
		in                    args
	}{
		{"TitleEmpty", "title", "required", args{"p_title": " "}},
		{"TitleTooLong", "title", "at most 256", args{"p_title": strings.Repeat("t", 257)}},
		{"RecipientNameEmpty", "recipient_name", "required", args{"p_recipient_name": ""}},
		{"RecipientEmailMalformed", "recipient_email", "name@domain",
			args{"p_recipient_email": "alex"}},
		{"RecipientEmailZeroWidthSpace", "recipient_email", "invisible",
			args{"p_recipient_email": "r@example.org\u200b"}},
		{"ServerShareEmpty", "server_share", "required", args{"p_server_share": ""}},
		{"ServerShareTooLong", "server_share", "at most 16384",
			args{"p_server_share": strings.Repeat("s", 16385)}},
		{"IVTooLong", "iv", "at most 256", args{"p_iv": strings.Repeat("x", 257)}},
		{"PhoneMalformed", "recipient_phone", "digits",
			args{"p_recipient_phone": "call me", "p_contact_method": "both"}},
		{"CheckInDaysOne", "check_in_days", "2..3650", args{"p_check_in_days": 1}},
		{"CheckInDays3651", "check_in_days", "2..3650", args{"p_check_in_days": 3651}},
		{"CheckInDaysNull", "check_in_days", "2..3650", args{"p_check_in_days": nil}},
		{"SharesTotal11", "sss_shares_total", "2..10", args{"p_sss_shares_total": 11}},
		{"SharesTotalOne", "sss_shares_total", "2..10", args{"p_sss_shares_total": 1}},
		{"ThresholdAboveTotal", "sss_threshold", "sss_shares_total (3), got 4",
			args{"p_sss_shares_total": 3, "p_sss_threshold": 4}},
		{"ThresholdOne", "sss_threshold", "2..sss_shares_total", args{"p_sss_threshold": 1}},
		{"ContactSMS", "contact_method", "email, phone, both",
			args{"p_contact_method": "sms"}},
		{"PhoneMethodWithoutPhone", "recipient_phone", "required when contact_method is phone",
			args{"p_contact_method": "phone"}},
		{"EmailMethodWithoutEmail", "recipient_email", "required when contact_method is email",
			args{"p_recipient_email": nil, "p_recipient_phone": "+15550100"}},
		{"BothWithoutPhone", "recipient_phone", "required when contact_method is both",
			args{"p_contact_method": "both"}},
	}
	for _, tc := range secretCases {
		t.Run("CreateSecret"+tc.name, func(t *testing.T) {
			_, err := callCreateSecret(queryCtx(t), db.Pool, tc.in)
			requireInvalid(t, db, err, tc.column, tc.message)
		})
	}

	for name, bad := range map[string]any{
		"Word":      "nope",
		"Null":      nil,
		"ShortUUID": "6f1c1b7e-8a52-4d53-9f43-2f1d8a0c5e1",
	} {
		t.Run("RecordCheckInSecretID"+name, func(t *testing.T) {
			_, err := callRecordCheckIn(queryCtx(t), db.Pool, args{"p_secret_id": bad})
			requireInvalid(t, db, err, "secret_id", "must be a UUID")
		})
	}
}

// requireInvalid checks an SD001 failure and that the database is still empty.
func requireInvalid(t *testing.T, db *testdb.DB, err error, column, message string) {
	t.Helper()
	pgErr := requireSQLState(t, err, "SD001", column)
	if !strings.Contains(pgErr.Message, message) {
		t.Errorf("message %q does not contain %q", pgErr.Message, message)
	}
	if !strings.Contains(pgErr.Hint, "p_"+column) {
		t.Errorf("hint %q does not name parameter p_%s", pgErr.Hint, column)
	}
	requireNothingWritten(t, db.Pool)
}
