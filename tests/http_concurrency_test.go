package tests

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

// noHang is the upper bound that proves a request neither hung nor queued behind the
// pool: several times the request deadline, never a performance target.
const noHang = 5 * time.Second

// parallelPosts sends n POST /api/secrets at once, released together by a barrier, and
// returns the responses in order. Transport errors fail the test.
func parallelPosts(t *testing.T, api *apiEnv, n int, req func(i int) apiRequest) []apiResponse {
	t.Helper()
	ctx := apiCtx(t)
	out := make([]apiResponse, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = api.do(ctx, req(i))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

// C02 through the API: a brand-new user's first requests all race to create the user.
func TestHTTPConcurrentFirstRequestsOfNewUser(t *testing.T) {
	t.Parallel()
	// The pool has a few connections for 50 requests; the wait for one is not under test.
	api := newAPI(t, apiConfig{Service: secrets.Options{AcquireTimeout: apiTimeout}})
	const n = 50
	const id = "103890241628354500674"
	cookies := mintCookies(t, sessionClaims(id, "jordan.lee@example.com"))
	body := mustJSON(t, secretBody())

	resps := parallelPosts(t, api, n, func(int) apiRequest {
		return apiRequest{Method: http.MethodPost, Path: "/api/secrets", Body: body,
			Cookies: cookies}
	})

	ids := make(map[string]bool, n)
	for _, resp := range resps {
		ids[requireCreated(t, resp).ID] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct secret ids, want %d", len(ids), n)
	}
	requireRowCounts(t, api.DB, map[string]int{
		"users": 1, "secrets": n, "audit_events": n + 1,
	})
	if got := apiCount(t, api.DB,
		`SELECT count(*) FROM public.secrets WHERE user_id = $1`, id); got != n {
		t.Fatalf("user %s owns %d secrets, want %d", id, got, n)
	}
}

// Another user's secret id answers exactly as an unknown one does, and the caller's
// session leaves nothing behind, not even their own user row.
func TestHTTPCheckInOfAnotherUsersSecret(t *testing.T) {
	t.Parallel()
	api := newAPI(t, apiConfig{})
	owner := mintCookies(t, sessionClaims("owner-1", "owner@example.com"))
	secret := requireCreated(t, api.createSecret(t, owner, secretBody()))
	existing := mintCookies(t, sessionClaims("existing-2", "existing@example.com"))
	requireCreated(t, api.createSecret(t, existing, secretBody()))
	before := rowCounts(t, api.DB)

	cases := []struct {
		name    string
		cookies []*http.Cookie
		id      string
	}{
		{"NewCaller", mintCookies(t, sessionClaims("stranger-3", "stranger@example.com")),
			secret.ID},
		{"ExistingCaller", existing, secret.ID},
		{"UnknownID", existing, "6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := api.checkIn(t, tc.cookies, tc.id)

			requireError(t, resp, http.StatusNotFound, "secret_not_found", "")
			requireRowCounts(t, api.DB, before)
			if n := apiCount(t, api.DB,
				`SELECT count(*) FROM public.users WHERE id = 'stranger-3'`); n != 0 {
				t.Fatalf("the caller's user row was left behind by a failed check-in")
			}
		})
	}
}

// C25: a pool of one connection. Every request finishes with its answer or a fast 503,
// none waits past its deadline, and every connection goes back to the pool.
func TestHTTPPoolOfOneConnection(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(apiCtx(t), cfg)
	if err != nil {
		t.Fatalf("pool of one: %v", err)
	}
	t.Cleanup(pool.Close)
	api := newAPIOn(t, db, pool, apiConfig{
		Service:        secrets.Options{AcquireTimeout: 200 * time.Millisecond},
		RequestTimeout: 2 * time.Second,
	})
	body := mustJSON(t, secretBody())
	// A connection broken by a cancelled statement is destroyed in the background, so
	// the count is polled; a leak never reaches zero.
	requireAllReturned := func(t *testing.T) {
		t.Helper()
		waitFor(t, "every connection back in the pool", func() bool {
			return pool.Stat().AcquiredConns() == 0
		})
		if n := pool.Stat().TotalConns(); n > 1 {
			t.Fatalf("a pool of one holds %d connections", n)
		}
	}

	t.Run("Concurrent", func(t *testing.T) {
		const users, perUser = 4, 10
		cookies := make([][]*http.Cookie, users)
		for u := range users {
			id := fmt.Sprintf("pool-user-%d", u)
			cookies[u] = mintCookies(t, sessionClaims(id, id+"@example.com"))
		}

		resps := parallelPosts(t, api, users*perUser, func(i int) apiRequest {
			return apiRequest{Method: http.MethodPost, Path: "/api/secrets", Body: body,
				Cookies: cookies[i%users]}
		})

		createdBy := make([]int, users)
		for i, resp := range resps {
			if resp.Took > noHang {
				t.Fatalf("request %d took %s, over the %s bound", i, resp.Took, noHang)
			}
			switch resp.Status {
			case http.StatusCreated:
				requireCreated(t, resp)
				createdBy[i%users]++
			default:
				requireError(t, resp, http.StatusServiceUnavailable, "unavailable", "")
				if resp.Header.Get("Retry-After") == "" {
					t.Fatalf("503 without Retry-After")
				}
			}
		}
		total := 0
		for u, n := range createdBy {
			total += n
			id := fmt.Sprintf("pool-user-%d", u)
			want := min(n, 1)
			if got := apiCount(t, db,
				`SELECT count(*) FROM public.users WHERE id = $1`, id); got != want {
				t.Fatalf("user %s: %d rows after %d created secrets, want %d", id, got, n, want)
			}
		}
		if total == 0 {
			t.Fatalf("no request of %d succeeded on a pool of one", users*perUser)
		}
		if got := apiCount(t, db, `SELECT count(*) FROM public.secrets`); got != total {
			t.Fatalf("secrets holds %d rows after %d answers of 201", got, total)
		}
		t.Logf("%d of %d concurrent requests got 201, the rest a fast 503",
			total, users*perUser)
		requireAllReturned(t)
	})

	t.Run("ConnectionHeldElsewhere", func(t *testing.T) {
		cookies := mintCookies(t, sessionClaims("pool-blocked", "blocked@example.com"))
		held, err := pool.Acquire(apiCtx(t))
		if err != nil {
			t.Fatalf("acquiring the only connection: %v", err)
		}

		resp := api.createSecret(t, cookies, secretBody())
		held.Release()

		requireError(t, resp, http.StatusServiceUnavailable, "unavailable", "")
		if resp.Took > noHang {
			t.Fatalf("503 took %s, over the %s bound", resp.Took, noHang)
		}
		if n := apiCount(t, db,
			`SELECT count(*) FROM public.users WHERE id = 'pool-blocked'`); n != 0 {
			t.Fatalf("a 503 left %d user rows", n)
		}
		requireCreated(t, api.createSecret(t, cookies, secretBody()))
		requireAllReturned(t)
	})

	t.Run("StatementPastDeadline", func(t *testing.T) {
		cookies := mintCookies(t, sessionClaims("pool-locked", "locked@example.com"))
		secret := requireCreated(t, api.createSecret(t, cookies, secretBody()))
		tx, err := db.Pool.Begin(apiCtx(t))
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		defer func() { _ = tx.Rollback(apiCtx(t)) }()
		if _, err := tx.Exec(apiCtx(t),
			`SELECT 1 FROM public.secrets WHERE id = $1 FOR UPDATE`, secret.ID); err != nil {
			t.Fatalf("locking the secret: %v", err)
		}

		resp := api.checkIn(t, cookies, secret.ID)
		if err := tx.Rollback(apiCtx(t)); err != nil {
			t.Fatalf("releasing the lock: %v", err)
		}

		requireError(t, resp, http.StatusServiceUnavailable, "timeout", "")
		if resp.Took > noHang {
			t.Fatalf("a check-in behind a lock answered after %s, over the %s bound",
				resp.Took, noHang)
		}
		if n := apiCount(t, db, `SELECT count(*) FROM public.checkin_history`); n != 0 {
			t.Fatalf("a check-in that answered 503 left %d history rows", n)
		}
		if resp := api.checkIn(t, cookies, secret.ID); resp.Status != http.StatusOK {
			t.Fatalf("check-in once the lock is gone: %d %s", resp.Status, resp.Body)
		}
		requireAllReturned(t)
	})
}
