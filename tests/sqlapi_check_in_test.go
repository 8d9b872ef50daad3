package tests

import (
	"strings"
	"testing"
	"time"
)

// TestSQLRecordCheckInNotFound checks that a secret of someone else and a secret that does
// not exist give the same SD003, so ids cannot be probed, and that the failed call leaves
// nothing: not even the caller's user, whom it provisioned in the same transaction.
func TestSQLRecordCheckInNotFound(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	owned := mustCreateSecret(t, db.Pool, nil)
	const (
		strangerID = "gh-7781"
		unknownID  = "0b6f3c1e-2d4a-4f7e-9b1c-5a6d7e8f9a0b"
	)
	stranger := args{"p_user_id": strangerID, "p_email": "casey.ng@example.com"}

	_, errOther := callRecordCheckIn(queryCtx(t), db.Pool,
		merged(stranger, args{"p_secret_id": owned.SecretID}))
	_, errUnknown := callRecordCheckIn(queryCtx(t), db.Pool,
		merged(stranger, args{"p_secret_id": unknownID}))

	other := requireSQLState(t, errOther, "SD003", "secret_id")
	unknown := requireSQLState(t, errUnknown, "SD003", "secret_id")
	if !strings.Contains(other.Message, owned.SecretID) {
		t.Errorf("message %q does not name secret %s", other.Message, owned.SecretID)
	}
	if strings.ReplaceAll(other.Message, owned.SecretID, unknownID) != unknown.Message ||
		other.Hint != unknown.Hint {
		t.Errorf("another user's secret and an unknown one differ:\n%q (%s)\n%q (%s)",
			other.Message, other.Hint, unknown.Message, unknown.Hint)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.checkin_history"); n != 0 {
		t.Errorf("checkin_history holds %d rows, want 0", n)
	}
	n := countRows(t, db.Pool, "SELECT count(*) FROM public.users WHERE id = $1", strangerID)
	if n != 0 {
		t.Errorf("the failed check-in left user %s behind", strangerID)
	}
	n = countRows(t, db.Pool,
		"SELECT count(*) FROM public.secrets WHERE id = $1 AND last_check_in IS NULL",
		owned.SecretID)
	if n != 1 {
		t.Error("the owner's secret was checked in by a stranger")
	}

	t.Run("ExistingStranger", func(t *testing.T) {
		mustEnsureUser(t, db.Pool, stranger)

		_, err := callRecordCheckIn(queryCtx(t), db.Pool,
			merged(stranger, args{"p_secret_id": owned.SecretID}))

		_ = requireSQLState(t, err, "SD003", "secret_id")
		if n := countRows(t, db.Pool, "SELECT count(*) FROM public.checkin_history"); n != 0 {
			t.Errorf("checkin_history holds %d rows, want 0", n)
		}
	})
}

// TestSQLRecordCheckInTriggered checks that a secret already released takes no check-in.
func TestSQLRecordCheckInTriggered(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	s := mustCreateSecret(t, db.Pool, nil)
	mustExec(t, db.Pool, "UPDATE public.secrets SET status = 'triggered' WHERE id = $1",
		s.SecretID)

	_, err := callRecordCheckIn(queryCtx(t), db.Pool, args{"p_secret_id": s.SecretID})

	pgErr := requireSQLState(t, err, "SD004", "secret_id")
	if !strings.Contains(pgErr.Message, s.SecretID) {
		t.Errorf("message %q does not name secret %s", pgErr.Message, s.SecretID)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.checkin_history"); n != 0 {
		t.Errorf("checkin_history holds %d rows, want 0", n)
	}
	var next time.Time
	err = db.Pool.QueryRow(queryCtx(t),
		"SELECT next_check_in FROM public.secrets WHERE id = $1", s.SecretID).Scan(&next)
	if err != nil {
		t.Fatal(err)
	}
	if !next.Equal(s.NextCheckIn) {
		t.Errorf("next_check_in moved from %v to %v", s.NextCheckIn, next)
	}
}

// TestSQLRecordCheckInPaused checks that a paused secret records the check-in and is not
// re-armed by it: pausing is the owner's decision, a check-in is not.
func TestSQLRecordCheckInPaused(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	s := mustCreateSecret(t, db.Pool, args{"p_check_in_days": 10})
	mustExec(t, db.Pool, "UPDATE public.secrets SET status = 'paused' WHERE id = $1",
		s.SecretID)

	c, err := callRecordCheckIn(queryCtx(t), db.Pool, args{"p_secret_id": s.SecretID})
	if err != nil {
		t.Fatalf("check-in of a paused secret: %v", err)
	}

	var status string
	var last, next time.Time
	err = db.Pool.QueryRow(queryCtx(t), `
		SELECT status::text, last_check_in, next_check_in
		FROM public.secrets WHERE id = $1`, s.SecretID).Scan(&status, &last, &next)
	if err != nil {
		t.Fatal(err)
	}
	if status != "paused" {
		t.Errorf("status = %q after a check-in, want paused", status)
	}
	if !last.Equal(c.CheckedInAt) || !next.Equal(c.CheckedInAt.Add(10*24*time.Hour)) {
		t.Errorf("secret has last %v next %v, want %v and 240h later", last, next, c.CheckedInAt)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.checkin_history"); n != 1 {
		t.Errorf("checkin_history holds %d rows, want 1", n)
	}
}

// TestSQLRecordCheckInLinkedID checks that a provider id linked to a user checks in that
// user's secrets, since the session of a linked id is the same person.
func TestSQLRecordCheckInLinkedID(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	s := mustCreateSecret(t, db.Pool, args{"p_email_verified": true})
	linked := args{
		"p_user_id":             "gh-4412",
		"p_email":               jordanEmail,
		"p_email_verified":      true,
		"p_link_verified_email": true,
	}
	mustEnsureUser(t, db.Pool, linked)

	c, err := callRecordCheckIn(queryCtx(t), db.Pool,
		args{"p_user_id": "gh-4412", "p_email": jordanEmail, "p_secret_id": s.SecretID})
	if err != nil {
		t.Fatalf("check-in through the linked id: %v", err)
	}

	if c.UserID != googleSubject {
		t.Errorf("check-in recorded for %q, want %q", c.UserID, googleSubject)
	}
	n := countRows(t, db.Pool,
		"SELECT count(*) FROM public.checkin_history WHERE user_id = $1", googleSubject)
	if n != 1 {
		t.Errorf("check-ins of %s = %d, want 1", googleSubject, n)
	}
}
