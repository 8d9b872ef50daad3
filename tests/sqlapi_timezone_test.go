package tests

import (
	"strings"
	"testing"
	"time"
)

// dstZone observes daylight saving time; the other two zones do not, and Kolkata's offset
// is not a whole number of hours.
const dstZone = "America/New_York"

var checkInZones = []string{dstZone, "UTC", "Asia/Kolkata"}

// TestSQLNextCheckInIgnoresTimeZone covers C23 through the API: whatever the session's
// TimeZone, next_check_in is check_in_days × 24 hours after the creation or check-in, also
// across a daylight-saving change, where adding calendar days in New York would not be.
func TestSQLNextCheckInIgnoresTimeZone(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	// The shortest period from now whose end lies on the other side of a New York clock
	// change, so the calendar-day and the 24-hour rule disagree by an hour.
	var days int
	err := db.Pool.QueryRow(queryCtx(t), `
		SELECT min(d) FROM generate_series(2, 3650) d
		WHERE timezone($1, now() + make_interval(hours => 24 * d)) - timezone($1, now())
			<> make_interval(hours => 24 * d)`, dstZone).Scan(&days)
	if err != nil {
		t.Fatalf("finding a period across a daylight-saving change: %v", err)
	}
	period := time.Duration(days) * 24 * time.Hour

	for _, zone := range checkInZones {
		t.Run(zoneTestName(zone), func(t *testing.T) {
			ctx := queryCtx(t)
			tx, err := db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			mustExec(t, tx, "SELECT set_config('TimeZone', $1, true)", zone)
			userID := "tz-" + strings.ToLower(strings.ReplaceAll(zone, "/", "-"))

			s, err := callCreateSecret(ctx, tx, args{
				"p_user_id": userID, "p_email": userID + "@example.com",
				"p_check_in_days": days,
			})
			if err != nil {
				t.Fatalf("create_secret: %v", err)
			}
			c, err := callRecordCheckIn(ctx, tx, args{
				"p_user_id": userID, "p_email": userID + "@example.com",
				"p_secret_id": s.SecretID,
			})
			if err != nil {
				t.Fatalf("record_check_in: %v", err)
			}

			// now() is the transaction's start, so it is the instant both rows were made.
			var txStart, created time.Time
			var calendar time.Time
			err = tx.QueryRow(ctx, `
				SELECT now(), s.created_at,
					timezone($2, timezone($2, s.created_at) + make_interval(days => $3))
				FROM public.secrets s WHERE s.id = $1`, s.SecretID, dstZone, days).
				Scan(&txStart, &created, &calendar)
			if err != nil {
				t.Fatal(err)
			}
			if !created.Equal(txStart) || !c.CheckedInAt.Equal(txStart) {
				t.Fatalf("created_at %v, checked_in_at %v, want the transaction start %v",
					created, c.CheckedInAt, txStart)
			}
			if got := s.NextCheckIn.Sub(created); got != period {
				t.Errorf("create_secret: next_check_in - created_at = %v, want %v", got, period)
			}
			if got := c.NextCheckIn.Sub(c.CheckedInAt); got != period {
				t.Errorf("record_check_in: next_check_in - checked_in_at = %v, want %v",
					got, period)
			}
			if calendar.Equal(s.NextCheckIn) {
				t.Fatalf("%d New York calendar days equal %v: the period crosses no "+
					"clock change, so this test proves nothing", days, period)
			}
		})
	}
}

// TestSQLNextCheckInAcrossKnownDSTChanges covers C23 for hand-written rows at fixed
// instants: the weekends New York's clocks change in 2026.
func TestSQLNextCheckInAcrossKnownDSTChanges(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	mustEnsureUser(t, db.Pool, args{"p_user_id": googleSubject, "p_email": jordanEmail})

	for _, zone := range checkInZones {
		t.Run(zoneTestName(zone), func(t *testing.T) {
			ctx := queryCtx(t)
			conn, err := db.Pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			mustExec(t, conn, "SELECT set_config('TimeZone', $1, false)", zone)
			defer mustExec(t, conn, "RESET TimeZone")

			// Noon on Saturday 7 March 2026 in New York; clocks spring forward on Sunday.
			spring := time.Date(2026, 3, 7, 17, 0, 0, 0, time.UTC)
			var secretID string
			var next time.Time
			err = conn.QueryRow(ctx, `
				INSERT INTO public.secrets (user_id, title, recipient_name, recipient_email,
					server_share, check_in_days, created_at)
				VALUES ($1, 'Letter', 'Alex', 'alex@example.net', 'share', 2, $2)
				RETURNING id::text, next_check_in`, googleSubject, spring).
				Scan(&secretID, &next)
			if err != nil {
				t.Fatal(err)
			}
			if want := spring.Add(48 * time.Hour); !next.Equal(want) {
				t.Errorf("secret created %v: next_check_in %v, want %v", spring, next, want)
			}

			// Noon on Saturday 31 October 2026; clocks fall back on Sunday.
			autumn := time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC)
			err = conn.QueryRow(ctx, `
				INSERT INTO public.checkin_history (secret_id, user_id, checked_in_at)
				VALUES ($1, $2, $3)
				RETURNING next_check_in`, secretID, googleSubject, autumn).Scan(&next)
			if err != nil {
				t.Fatal(err)
			}
			if want := autumn.Add(48 * time.Hour); !next.Equal(want) {
				t.Errorf("check-in at %v: next_check_in %v, want %v", autumn, next, want)
			}
		})
	}
}

// zoneTestName turns "America/New_York" into the subtest name "AmericaNewYork".
func zoneTestName(zone string) string {
	return strings.NewReplacer("/", "", "_", "").Replace(zone)
}
