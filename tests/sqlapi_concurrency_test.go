package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// The tests of this file open up to 64 connections each, so they do not run in parallel
// with other tests: the server allows 100 connections in all.

// maxSerializationRetries bounds the retries of a REPEATABLE READ caller. Each retry takes a
// new snapshot that sees the committed user, so one retry is enough; the margin absorbs
// scheduling noise without hiding a livelock.
const maxSerializationRetries = 5

// openConns opens n connections to db, each closed when the test ends.
func openConns(t *testing.T, db *testdb.DB, n int) []*pgx.Conn {
	t.Helper()
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conn, err := pgx.Connect(queryCtx(t), db.URL)
		if err != nil {
			t.Fatalf("opening connection %d of %d: %v", i+1, n, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
			defer cancel()
			_ = conn.Close(ctx)
		})
		conns[i] = conn
	}
	return conns
}

// together runs call once per connection, all released at the same moment so the first
// statements race, and returns each call's error.
func together(t *testing.T, conns []*pgx.Conn, call func(int, *pgx.Conn) error) []error {
	t.Helper()
	errs := make([]error, len(conns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i, conn)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// outcomeCounts tallies outcomes and fails the test on any error or any other user id.
func outcomeCounts(t *testing.T, errs []error, ids, outcomes []string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
			continue
		}
		if ids[i] != googleSubject {
			t.Errorf("call %d returned user %q, want %q", i, ids[i], googleSubject)
		}
		counts[outcomes[i]]++
	}
	return counts
}

// TestSQLConcurrencyFirstEnsureUser covers C02: the first sign-in of one user arriving on
// 64 connections at once creates one row, and every call gets that row back.
func TestSQLConcurrencyFirstEnsureUser(t *testing.T) {
	db := newAPIDB(t)
	conns := openConns(t, db, 64)
	ids := make([]string, len(conns))
	outcomes := make([]string, len(conns))

	errs := together(t, conns, func(i int, conn *pgx.Conn) error {
		u, err := callEnsureUser(queryCtx(t), conn,
			args{"p_user_id": googleSubject, "p_email": jordanEmail})
		ids[i], outcomes[i] = u.ID, u.Outcome
		return err
	})

	counts := outcomeCounts(t, errs, ids, outcomes)
	if counts["created"] != 1 || counts["existing"] != len(conns)-1 {
		t.Errorf("outcomes = %v, want 1 created and %d existing", counts, len(conns)-1)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.users"); n != 1 {
		t.Errorf("users holds %d rows, want 1", n)
	}
}

// TestSQLConcurrencyFirstCreateSecret covers C02 for the write that provisions: 20 secrets
// created at once by a new user are 20 secrets of one user.
func TestSQLConcurrencyFirstCreateSecret(t *testing.T) {
	db := newAPIDB(t)
	conns := openConns(t, db, 20)
	ids := make([]string, len(conns))
	outcomes := make([]string, len(conns))

	errs := together(t, conns, func(i int, conn *pgx.Conn) error {
		s, err := callCreateSecret(queryCtx(t), conn,
			args{"p_title": fmt.Sprintf("Letter %d", i)})
		ids[i], outcomes[i] = s.UserID, s.Outcome
		return err
	})

	counts := outcomeCounts(t, errs, ids, outcomes)
	if counts["created"] != 1 {
		t.Errorf("outcomes = %v, want exactly 1 created", counts)
	}
	if n := countRows(t, db.Pool, "SELECT count(*) FROM public.users"); n != 1 {
		t.Errorf("users holds %d rows, want 1", n)
	}
	n := countRows(t, db.Pool, "SELECT count(*) FROM public.secrets WHERE user_id = $1",
		googleSubject)
	if n != len(conns) {
		t.Errorf("secrets of %s = %d, want %d", googleSubject, n, len(conns))
	}
}

// TestSQLConcurrencyRepeatableRead covers C02 under REPEATABLE READ, where a transaction
// cannot see the user a concurrent one committed after its snapshot. The only acceptable
// failure is 40001, which a retry in a new transaction resolves.
func TestSQLConcurrencyRepeatableRead(t *testing.T) {
	rr := pgx.TxOptions{IsoLevel: pgx.RepeatableRead}

	t.Run("SnapshotBeforeCommit", func(t *testing.T) {
		db := newAPIDB(t)
		ctx := queryCtx(t)
		tx, err := db.Pool.BeginTx(ctx, rr)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		mustExec(t, tx, "SELECT 1") // takes the snapshot
		mustEnsureUser(t, db.Pool, args{"p_user_id": googleSubject, "p_email": jordanEmail})

		_, err = callCreateSecret(ctx, tx, nil)

		_ = requireSQLState(t, err, "40001", "")
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		var s createdSecret
		err = pgx.BeginTxFunc(ctx, db.Pool, rr, func(tx pgx.Tx) error {
			s, err = callCreateSecret(ctx, tx, nil)
			return err
		})
		if err != nil {
			t.Fatalf("retry in a new transaction: %v", err)
		}
		if s.UserID != googleSubject || s.Outcome != "existing" {
			t.Errorf("retry = %+v, want existing user %s", s, googleSubject)
		}
	})

	t.Run("RacingFirstCalls", func(t *testing.T) {
		db := newAPIDB(t)
		conns := openConns(t, db, 32)
		ids := make([]string, len(conns))
		outcomes := make([]string, len(conns))
		var mu sync.Mutex
		retried := 0

		errs := together(t, conns, func(i int, conn *pgx.Conn) error {
			for attempt := 1; ; attempt++ {
				var s createdSecret
				err := pgx.BeginTxFunc(queryCtx(t), conn, rr, func(tx pgx.Tx) error {
					var err error
					s, err = callCreateSecret(queryCtx(t), tx, nil)
					return err
				})
				var pgErr *pgconn.PgError
				if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "40001" ||
					attempt == maxSerializationRetries {
					ids[i], outcomes[i] = s.UserID, s.Outcome
					return err
				}
				mu.Lock()
				retried++
				mu.Unlock()
			}
		})

		counts := outcomeCounts(t, errs, ids, outcomes)
		if counts["created"] != 1 {
			t.Errorf("outcomes = %v, want exactly 1 created", counts)
		}
		if n := countRows(t, db.Pool, "SELECT count(*) FROM public.users"); n != 1 {
			t.Errorf("users holds %d rows, want 1", n)
		}
		if n := countRows(t, db.Pool, "SELECT count(*) FROM public.secrets"); n != len(conns) {
			t.Errorf("secrets holds %d rows, want %d", n, len(conns))
		}
		t.Logf("%d serialization failures retried", retried)
	})
}

// TestSQLConcurrencyCheckIns checks that simultaneous check-ins of one secret are all kept
// and leave the secret at the latest of them.
func TestSQLConcurrencyCheckIns(t *testing.T) {
	db := newAPIDB(t)
	s := mustCreateSecret(t, db.Pool, nil)
	conns := openConns(t, db, 20)

	errs := together(t, conns, func(_ int, conn *pgx.Conn) error {
		_, err := callRecordCheckIn(queryCtx(t), conn, args{"p_secret_id": s.SecretID})
		return err
	})

	for i, err := range errs {
		if err != nil {
			t.Errorf("check-in %d: %v", i, err)
		}
	}
	n := countRows(t, db.Pool, "SELECT count(*) FROM public.checkin_history")
	if n != len(conns) {
		t.Errorf("checkin_history holds %d rows, want %d", n, len(conns))
	}
	n = countRows(t, db.Pool, `
		SELECT count(*) FROM public.secrets s
		WHERE s.id = $1
			AND s.last_check_in = (SELECT max(checked_in_at) FROM public.checkin_history)
			AND s.next_check_in = (SELECT max(next_check_in) FROM public.checkin_history)`,
		s.SecretID)
	if n != 1 {
		t.Error("the secret does not carry the latest check-in")
	}
}
