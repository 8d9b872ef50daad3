package tests

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The triggers keep rows a DBA writes by hand to the rules the API follows. These tests
// write with plain INSERT and UPDATE, as psql would, never through the routines.

func TestSQLTriggerUsersNormaliseEmail(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	mustExec(t, db.Pool, "INSERT INTO public.users (id, email) VALUES ('dba-1', '  X@Y.COM ')")
	mustExec(t, db.Pool, "INSERT INTO public.users (id, email) VALUES ('dba-2', 'two@y.com')")
	mustExec(t, db.Pool, "UPDATE public.users SET email = E'\\tTwo@Z.Com\\n' WHERE id = 'dba-2'")

	for id, want := range map[string]string{"dba-1": "x@y.com", "dba-2": "two@z.com"} {
		var got string
		err := db.Pool.QueryRow(queryCtx(t), "SELECT email FROM public.users WHERE id = $1", id).
			Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("user %s: stored email %q, want %q", id, got, want)
		}
	}

	t.Run("DuplicateAfterNormalising", func(t *testing.T) {
		_, err := db.Pool.Exec(queryCtx(t),
			"INSERT INTO public.users (id, email) VALUES ('dba-3', 'x@Y.com')")
		_ = requireSQLState(t, err, "23505", "")
	})
}

func TestSQLTriggerUsersTouchUpdatedAt(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	mustEnsureUser(t, db.Pool, args{"p_user_id": googleSubject, "p_email": jordanEmail})

	var created, updated, txStart time.Time
	err := db.Pool.QueryRow(queryCtx(t), `
		UPDATE public.users
		SET name = 'Jordan Lee', updated_at = '2000-01-01T00:00:00Z'
		WHERE id = $1
		RETURNING created_at, updated_at, now()`, googleSubject).
		Scan(&created, &updated, &txStart)
	if err != nil {
		t.Fatal(err)
	}

	if !updated.Equal(txStart) || !updated.After(created) {
		t.Errorf("updated_at = %v after an update at %v of a row created %v",
			updated, txStart, created)
	}
}

func TestSQLTriggerSecretsNextCheckIn(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	mustEnsureUser(t, db.Pool, args{"p_user_id": googleSubject, "p_email": jordanEmail})
	created := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	lastCheckIn := time.Date(2026, 6, 20, 9, 30, 0, 0, time.UTC)
	insert := func(t *testing.T, lastCheckIn *time.Time) (string, time.Time) {
		t.Helper()
		var id string
		var next time.Time
		err := db.Pool.QueryRow(queryCtx(t), `
			INSERT INTO public.secrets (user_id, title, recipient_name, recipient_email,
				server_share, check_in_days, created_at, last_check_in)
			VALUES ($1, 'Letter', 'Alex', ' Alex@Example.NET', 'share', 14, $2, $3)
			RETURNING id::text, next_check_in`, googleSubject, created, lastCheckIn).
			Scan(&id, &next)
		if err != nil {
			t.Fatal(err)
		}
		return id, next
	}

	t.Run("FromCreatedAt", func(t *testing.T) {
		_, next := insert(t, nil)

		if want := created.Add(14 * 24 * time.Hour); !next.Equal(want) {
			t.Errorf("next_check_in = %v, want %v", next, want)
		}
	})

	t.Run("FromLastCheckIn", func(t *testing.T) {
		_, next := insert(t, &lastCheckIn)

		if want := lastCheckIn.Add(14 * 24 * time.Hour); !next.Equal(want) {
			t.Errorf("next_check_in = %v, want %v", next, want)
		}
	})

	t.Run("CheckInDaysChanged", func(t *testing.T) {
		id, _ := insert(t, &lastCheckIn)

		var next time.Time
		err := db.Pool.QueryRow(queryCtx(t), `
			UPDATE public.secrets SET check_in_days = 3 WHERE id = $1
			RETURNING next_check_in`, id).Scan(&next)
		if err != nil {
			t.Fatal(err)
		}
		if want := lastCheckIn.Add(72 * time.Hour); !next.Equal(want) {
			t.Errorf("next_check_in = %v after check_in_days = 3, want %v", next, want)
		}
	})

	t.Run("RecipientEmailNormalised", func(t *testing.T) {
		id, _ := insert(t, nil)

		var email string
		err := db.Pool.QueryRow(queryCtx(t),
			"SELECT recipient_email FROM public.secrets WHERE id = $1", id).Scan(&email)
		if err != nil {
			t.Fatal(err)
		}
		if email != "alex@example.net" {
			t.Errorf("recipient_email = %q, want alex@example.net", email)
		}
	})

	t.Run("TriggeredAtFollowsStatus", func(t *testing.T) {
		id, _ := insert(t, nil)
		setStatus := func(status string) *time.Time {
			t.Helper()
			var at *time.Time
			err := db.Pool.QueryRow(queryCtx(t), `
				UPDATE public.secrets SET status = $2::public.secret_status WHERE id = $1
				RETURNING triggered_at`, id, status).Scan(&at)
			if err != nil {
				t.Fatal(err)
			}
			return at
		}

		if at := setStatus("triggered"); at == nil {
			t.Error("triggering a secret left triggered_at NULL")
		}
		if at := setStatus("active"); at != nil {
			t.Errorf("re-arming a secret kept triggered_at %v", at)
		}
	})
}

func TestSQLTriggerCheckinHistory(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	s := mustCreateSecret(t, db.Pool, args{"p_check_in_days": 5})
	mustEnsureUser(t, db.Pool, args{"p_user_id": "gh-7781", "p_email": "casey.ng@example.com"})
	checkedIn := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
	secretState := func(t *testing.T) (time.Time, time.Time) {
		t.Helper()
		var last, next time.Time
		err := db.Pool.QueryRow(queryCtx(t),
			"SELECT last_check_in, next_check_in FROM public.secrets WHERE id = $1",
			s.SecretID).Scan(&last, &next)
		if err != nil {
			t.Fatal(err)
		}
		return last, next
	}

	t.Run("MovesSecret", func(t *testing.T) {
		mustExec(t, db.Pool, `
			INSERT INTO public.checkin_history (secret_id, user_id, checked_in_at)
			VALUES ($1, $2, $3)`, s.SecretID, googleSubject, checkedIn)

		last, next := secretState(t)
		if !last.Equal(checkedIn) || !next.Equal(checkedIn.Add(5*24*time.Hour)) {
			t.Errorf("secret has last %v next %v, want %v and 120h later", last, next, checkedIn)
		}
	})

	t.Run("BackfillKeepsSecret", func(t *testing.T) {
		mustExec(t, db.Pool, `
			INSERT INTO public.checkin_history (secret_id, user_id, checked_in_at)
			VALUES ($1, $2, $3)`, s.SecretID, googleSubject, checkedIn.Add(-48*time.Hour))

		if last, _ := secretState(t); !last.Equal(checkedIn) {
			t.Errorf("an older back-filled check-in moved last_check_in to %v", last)
		}
	})

	t.Run("NotOwner", func(t *testing.T) {
		_, err := db.Pool.Exec(queryCtx(t), `
			INSERT INTO public.checkin_history (secret_id, user_id) VALUES ($1, 'gh-7781')`,
			s.SecretID)

		_ = requireSQLState(t, err, "SD003", "")
		n := countRows(t, db.Pool,
			"SELECT count(*) FROM public.checkin_history WHERE user_id = 'gh-7781'")
		if n != 0 {
			t.Errorf("checkin_history holds %d rows of a non-owner", n)
		}
	})

	t.Run("Triggered", func(t *testing.T) {
		mustExec(t, db.Pool, "UPDATE public.secrets SET status = 'triggered' WHERE id = $1",
			s.SecretID)

		_, err := db.Pool.Exec(queryCtx(t), `
			INSERT INTO public.checkin_history (secret_id, user_id) VALUES ($1, $2)`,
			s.SecretID, googleSubject)

		_ = requireSQLState(t, err, "SD004", "")
	})
}

// auditEvent is one row of audit_events, details kept raw.
type auditEvent struct {
	Action   string
	UserID   string
	ObjectID string
	Details  json.RawMessage
}

func TestSQLTriggerAuditEvents(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	s := mustCreateSecret(t, db.Pool, args{
		"p_email_verified": true, "p_iv": "aXYtdmFsdWU=", "p_auth_tag": "dGFnLXZhbHVl",
	})
	mustEnsureUser(t, db.Pool, args{
		"p_user_id": "gh-4412", "p_email": jordanEmail, "p_provider": "github",
		"p_email_verified": true, "p_link_verified_email": true,
	})
	_, err := callRecordCheckIn(queryCtx(t), db.Pool, args{"p_secret_id": s.SecretID})
	if err != nil {
		t.Fatal(err)
	}

	rows, err := db.Pool.Query(queryCtx(t), `
		SELECT action, user_id, object_id, details FROM public.audit_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var events []auditEvent
	for rows.Next() {
		var e auditEvent
		if err := rows.Scan(&e.Action, &e.UserID, &e.ObjectID, &e.Details); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	want := []struct{ action, userID, objectID string }{
		{"user.created", googleSubject, googleSubject},
		{"secret.created", googleSubject, s.SecretID},
		{"user.linked", googleSubject, "gh-4412"},
		{"secret.checked_in", googleSubject, s.SecretID},
	}
	if len(events) != len(want) {
		t.Fatalf("audit_events = %+v, want %d rows", events, len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Action != w.action || e.UserID != w.userID || e.ObjectID != w.objectID {
			t.Errorf("audit row %d = %s %s %s, want %s %s %s", i,
				e.Action, e.UserID, e.ObjectID, w.action, w.userID, w.objectID)
		}
		details := string(e.Details)
		for _, secret := range []string{testShare, "aXYtdmFsdWU=", "dGFnLXZhbHVl", "share"} {
			if strings.Contains(details, secret) {
				t.Errorf("audit row %s details %s contain %q", e.Action, details, secret)
			}
		}
	}
}

func TestSQLTriggerAuditAppendOnly(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	mustEnsureUser(t, db.Pool, args{"p_user_id": googleSubject, "p_email": jordanEmail})

	for name, stmt := range map[string]string{
		"Update":   "UPDATE public.audit_events SET details = '{}'",
		"Delete":   "DELETE FROM public.audit_events",
		"Truncate": "TRUNCATE public.audit_events",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := db.Pool.Exec(queryCtx(t), stmt)

			pgErr := requireSQLState(t, err, "SD005", "")
			if !strings.Contains(pgErr.Message, strings.ToUpper(name)) {
				t.Errorf("message %q does not name %s", pgErr.Message, strings.ToUpper(name))
			}
			if n := countRows(t, db.Pool, "SELECT count(*) FROM public.audit_events"); n != 1 {
				t.Errorf("audit_events holds %d rows, want 1", n)
			}
		})
	}
}
