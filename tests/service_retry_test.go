package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

// newSecret is a valid secret for Service calls.
func newSecret() secrets.NewSecret {
	return secrets.NewSecret{
		Title:          "Letter to Alex",
		RecipientName:  "Alex Morgan",
		RecipientEmail: "alex.morgan@example.net",
		ContactMethod:  secrets.DefaultContactMethod,
		CheckInDays:    secrets.DefaultCheckInDays,
		ServerShare:    "c2hhcmUtb2YtdGhlLXNlcnZpY2UtMDAwMQ==",
		SharesTotal:    secrets.DefaultSharesTotal,
		Threshold:      secrets.DefaultThreshold,
	}
}

// repeatableReadPool opens n connections to db whose every transaction, including each
// autocommit CALL, runs under REPEATABLE READ. The connections are opened up front so
// that the calls of a round start together instead of one per new connection.
func repeatableReadPool(t *testing.T, db *testdb.DB, n int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "repeatable read"
	cfg.MaxConns, cfg.MinConns = n, n
	pool, err := pgxpool.NewWithConfig(apiCtx(t), cfg)
	if err != nil {
		t.Fatalf("repeatable read pool: %v", err)
	}
	t.Cleanup(pool.Close)

	ctx := apiCtx(t)
	conns := make([]*pgxpool.Conn, 0, n)
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("opening connection: %v", err)
		}
		var level string
		if err := c.QueryRow(ctx, "SHOW transaction_isolation").Scan(&level); err != nil {
			t.Fatalf("reading isolation: %v", err)
		}
		if level != "repeatable read" {
			t.Fatalf("transaction_isolation = %q, want repeatable read", level)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
	return pool
}

// C02 under REPEATABLE READ: the first calls of a new user collide on the users row and
// PostgreSQL answers 40001 to all but one. The Service retries them, so every call
// succeeds, with one user row.
func TestServiceRepeatableReadRetries(t *testing.T) {
	t.Parallel()
	const workers = 32
	// A round races only when two calls take their snapshots before the winner commits;
	// it nearly always happens on the first round, and rounds are cheap.
	const maxRounds = 20
	db := testdb.New(t)
	pool := repeatableReadPool(t, db, workers)
	var retries atomic.Int64
	svc := secrets.New(pool, secrets.Options{
		OnRetry: func(err error) {
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || (pe.Code != "40001" && pe.Code != "40P01") {
				t.Errorf("retried a non-retryable error: %v", err)
			}
			retries.Add(1)
		},
	})

	rounds := 0
	for rounds < maxRounds && retries.Load() == 0 {
		rounds++
		id := fmt.Sprintf("rr-user-%d", rounds)
		sess := secrets.Session{UserID: id, Email: id + "@example.com", Name: "Jordan Lee"}

		errs := make([]error, workers)
		users := make([]string, workers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c, err := svc.CreateSecret(apiCtx(t), sess, newSecret())
				errs[i], users[i] = err, c.UserID
			}()
		}
		close(start)
		wg.Wait()

		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, call %d: %v", rounds, i, err)
			}
			if users[i] != id {
				t.Fatalf("round %d, call %d resolved user %q, want %q", rounds, i, users[i], id)
			}
		}
		if n := apiCount(t, db, `SELECT count(*) FROM public.users WHERE id = $1`, id); n != 1 {
			t.Fatalf("round %d: %d user rows, want 1", rounds, n)
		}
		created := apiCount(t, db, `SELECT count(*) FROM public.secrets WHERE user_id = $1`, id)
		if created != workers {
			t.Fatalf("round %d: %d secrets, want %d", rounds, created, workers)
		}
	}
	if retries.Load() == 0 {
		t.Fatalf("no serialization failure in %d rounds of %d concurrent first calls; "+
			"the retry path went untested", rounds, workers)
	}
	t.Logf("%d retries in %d round(s) of %d concurrent calls", retries.Load(), rounds, workers)
}

// failUserInserts makes every insert into users fail with code, as a DBA's trigger or a
// conflicting transaction would, so that retries can be counted exactly.
func failUserInserts(t *testing.T, db *testdb.DB, code string) {
	t.Helper()
	apiExec(t, db, fmt.Sprintf(`CREATE FUNCTION public.fail_insert() RETURNS trigger
		LANGUAGE plpgsql AS $$ BEGIN
			RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = 'injected failure';
		END $$`, code))
	apiExec(t, db, `CREATE TRIGGER fail_insert AFTER INSERT ON public.users
		FOR EACH ROW EXECUTE FUNCTION public.fail_insert()`)
}

// Serialization failures and deadlocks are retried MaxAttempts times in all, then reported
// as ErrUnavailable with their SQLSTATE; other errors are not retried at all.
func TestServiceRetriesAreBounded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code        string
		maxAttempts int
		retries     int64
		want        error
	}{
		{"40001", 0, 3, secrets.ErrUnavailable},
		{"40001", 2, 1, secrets.ErrUnavailable},
		{"40P01", 5, 4, secrets.ErrUnavailable},
		{"P0001", 5, 0, secrets.ErrRejected},
		{"23505", 5, 0, secrets.ErrRejected},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%sMax%d", tc.code, tc.maxAttempts), func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t)
			failUserInserts(t, db, tc.code)
			var retries atomic.Int64
			svc := secrets.New(db.Pool, secrets.Options{
				MaxAttempts: tc.maxAttempts,
				OnRetry:     func(error) { retries.Add(1) },
			})
			sess := secrets.Session{UserID: "retried", Email: "retried@example.com"}

			_, err := svc.CreateSecret(apiCtx(t), sess, newSecret())

			var de *secrets.DatabaseError
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Code != tc.code {
				t.Fatalf("error = %v, want %v with SQLSTATE %s", err, tc.want, tc.code)
			}
			if got := retries.Load(); got != tc.retries {
				t.Fatalf("%d retries, want %d", got, tc.retries)
			}
			requireNoRows(t, db)
		})
	}
}

// A deadline that passes while a retry waits is the same ErrUnavailable as one that
// passes during a statement.
func TestServiceDeadlineDuringRetryBackoff(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	failUserInserts(t, db, "40001")
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	deadline, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	svc := secrets.New(db.Pool, secrets.Options{
		OnRetry: func(error) { stop(context.DeadlineExceeded) },
	})
	sess := secrets.Session{UserID: "late", Email: "late@example.com"}

	_, err := svc.CreateSecret(deadlineCtx{deadline}, sess, newSecret())

	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
}

// deadlineCtx reports its cancellation as an expired deadline, so a test can let a
// deadline pass at an exact point instead of racing a timer.
type deadlineCtx struct{ context.Context }

func (c deadlineCtx) Err() error {
	if c.Context.Err() != nil {
		return context.DeadlineExceeded
	}
	return nil
}
