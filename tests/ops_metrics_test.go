package tests

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

// One created secret moves the secret and user counters and the 201 request counter by
// exactly one; a check-in of it moves the check-in counter, and no user is counted again.
func TestOpsMetricsCountOneCreatedSecret(t *testing.T) {
	t.Parallel()
	api := newOpsAPI(t, opsConfig{})
	cookies := mintCookies(t, sessionClaims("metrics-user", "metrics@example.com"))
	before := scrapeMetrics(t, api.MetricsURL)

	secret := requireCreated(t, api.createSecret(t, cookies, secretBody()))

	afterCreate := waitScrape(t, api.MetricsURL, seriesRequests(routeCreate, 201), 1)
	requireDelta(t, before, afterCreate, map[string]float64{
		seriesSecretsCreated:                           1,
		seriesUsersCreated:                             1,
		seriesUsersLinked:                              0,
		seriesCheckIns:                                 0,
		seriesRequests(routeCreate, 201):               1,
		seriesLatencyCount(routeCreate):                1,
		`secretsdb_db_retries_total{sqlstate="40001"}`: 0,
	})

	if resp := api.checkIn(t, cookies, secret.ID); resp.Status != http.StatusOK {
		t.Fatalf("check-in: %d %s", resp.Status, resp.Body)
	}

	afterCheckIn := waitScrape(t, api.MetricsURL, seriesRequests(routeCheckIn, 200), 1)
	requireDelta(t, afterCreate, afterCheckIn, map[string]float64{
		seriesSecretsCreated:              0,
		seriesUsersCreated:                0,
		seriesCheckIns:                    1,
		seriesRequests(routeCheckIn, 200): 1,
		seriesLatencyCount(routeCheckIn):  1,
		seriesRequests(routeCreate, 201):  0,
	})
}

// C10: a DBA's trigger refuses the new user. The 422 is counted as a request, but no
// secret and no user: the call failed, so nothing was committed. Once the trigger is gone
// the same request counts once.
func TestOpsMetricsRejectedCreateCountsNothing(t *testing.T) {
	t.Parallel()
	api := newOpsAPI(t, opsConfig{})
	apiExec(t, api.DB, `CREATE FUNCTION public.pause_signups() RETURNS trigger
		LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'signup paused'; END $$`)
	apiExec(t, api.DB, `CREATE TRIGGER pause_signups AFTER INSERT ON public.users
		FOR EACH ROW EXECUTE FUNCTION public.pause_signups()`)
	cookies := mintCookies(t, sessionClaims("paused-metrics", "paused.metrics@example.com"))
	before := scrapeMetrics(t, api.MetricsURL)

	requireError(t, api.createSecret(t, cookies, secretBody()),
		http.StatusUnprocessableEntity, "rejected", "")

	failed := waitScrape(t, api.MetricsURL, seriesRequests(routeCreate, 422), 1)
	requireDelta(t, before, failed, map[string]float64{
		seriesSecretsCreated:             0,
		seriesUsersCreated:               0,
		seriesRequests(routeCreate, 422): 1,
		seriesRequests(routeCreate, 201): 0,
	})
	requireNoRows(t, api.DB)

	// Without the trigger, a check-in of a missing secret provisions the user and then
	// fails: the statement rolls back, and neither the user nor a check-in is counted.
	apiExec(t, api.DB, `DROP TRIGGER pause_signups ON public.users`)
	missing := api.checkIn(t, cookies, "6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887")
	requireError(t, missing, http.StatusNotFound, "secret_not_found", "")

	notFound := waitScrape(t, api.MetricsURL, seriesRequests(routeCheckIn, 404), 1)
	requireDelta(t, failed, notFound, map[string]float64{
		seriesUsersCreated: 0,
		seriesCheckIns:     0,
	})
	requireNoRows(t, api.DB)

	requireCreated(t, api.createSecret(t, cookies, secretBody()))

	after := waitScrape(t, api.MetricsURL, seriesRequests(routeCreate, 201), 1)
	requireDelta(t, notFound, after, map[string]float64{
		seriesSecretsCreated: 1,
		seriesUsersCreated:   1,
	})
}

// A new session id whose verified email belongs to a user is linked to that user: counted
// under outcome="linked", not "created".
func TestOpsMetricsLinkedUser(t *testing.T) {
	t.Parallel()
	api := newOpsAPI(t, opsConfig{Service: secrets.Options{LinkVerifiedEmail: true}})
	first := sessionClaims("google-4471", "sam.rivera@example.org")
	first.EmailVerified = true
	second := sessionClaims("gh-4412", "SAM.RIVERA@example.org")
	second.EmailVerified = true
	requireCreated(t, api.createSecret(t, mintCookies(t, first), secretBody()))
	before := scrapeMetrics(t, api.MetricsURL)

	requireCreated(t, api.createSecret(t, mintCookies(t, second), secretBody()))

	after := waitScrape(t, api.MetricsURL, seriesRequests(routeCreate, 201), 2)
	requireDelta(t, before, after, map[string]float64{
		seriesUsersLinked:    1,
		seriesUsersCreated:   0,
		seriesSecretsCreated: 1,
	})
}

// The pool's gauges and counters are read at scrape time: its size and the connections
// in use; a request that finds the pool taken past the acquire timeout is a canceled
// acquire (and a 503), one that gets a connection after waiting adds its wait.
func TestOpsPoolMetrics(t *testing.T) {
	t.Parallel()
	api := newOpsAPI(t, opsConfig{
		NewPool: func(t *testing.T, db *testdb.DB) *pgxpool.Pool { return sizedPool(t, db, 1) },
		Service: secrets.Options{AcquireTimeout: 2 * time.Second},
	})
	cookies := mintCookies(t, sessionClaims("pool-user", "pool@example.com"))
	requireCreated(t, api.createSecret(t, cookies, secretBody()))

	idle := scrapeMetrics(t, api.MetricsURL)
	for series, want := range map[string]float64{
		"secretsdb_pool_max_conns":      1,
		"secretsdb_pool_acquired_conns": 0,
		"secretsdb_pool_total_conns":    1,
		"secretsdb_pool_idle_conns":     1,
	} {
		if got := idle.value(t, series); got != want {
			t.Errorf("%s = %g, want %g", series, got, want)
		}
	}
	if n := idle.value(t, "secretsdb_pool_acquires_total"); n < 1 {
		t.Errorf("secretsdb_pool_acquires_total = %g, want the create's acquire", n)
	}
	for _, series := range []string{
		"secretsdb_pool_constructing_conns", "secretsdb_pool_acquire_duration_seconds_total",
		"secretsdb_pool_empty_acquires_total", "secretsdb_pool_empty_acquire_wait_seconds_total",
		"secretsdb_pool_canceled_acquires_total", "secretsdb_pool_new_conns_total",
	} {
		idle.value(t, series)
	}

	t.Run("Saturated", func(t *testing.T) {
		held, err := api.Pool.Acquire(apiCtx(t))
		if err != nil {
			t.Fatalf("taking the pool's only connection: %v", err)
		}
		defer held.Release()
		before := scrapeMetrics(t, api.MetricsURL)

		requireError(t, api.createSecret(t, cookies, secretBody()),
			http.StatusServiceUnavailable, "unavailable", "")

		saturated := scrapeMetrics(t, api.MetricsURL)
		if got := saturated.value(t, "secretsdb_pool_acquired_conns"); got != 1 {
			t.Errorf("acquired conns while held = %g, want 1 of 1", got)
		}
		requireDelta(t, before, saturated, map[string]float64{
			"secretsdb_pool_canceled_acquires_total": 1,
			"secretsdb_pool_empty_acquires_total":    0,
			seriesSecretsCreated:                     0,
		})
	})

	t.Run("Waited", func(t *testing.T) {
		held, err := api.Pool.Acquire(apiCtx(t))
		if err != nil {
			t.Fatalf("taking the pool's only connection: %v", err)
		}
		before := scrapeMetrics(t, api.MetricsURL)
		// Long enough for the request to reach the pool on a busy machine, well inside
		// the acquire timeout.
		const hold = 700 * time.Millisecond
		done := make(chan apiResponse, 1)
		go func() {
			resp, err := api.do(apiCtx(t), apiRequest{Method: http.MethodGet,
				Path: "/api/secrets", Cookies: cookies})
			if err != nil {
				t.Errorf("list: %v", err)
			}
			done <- resp
		}()
		time.Sleep(hold)
		held.Release()

		if resp := <-done; resp.Status != http.StatusOK {
			t.Fatalf("list after the wait: %d %s", resp.Status, resp.Body)
		}
		after := scrapeMetrics(t, api.MetricsURL)
		requireDelta(t, before, after, map[string]float64{
			"secretsdb_pool_empty_acquires_total":    1,
			"secretsdb_pool_canceled_acquires_total": 0,
		})
		waited := after.value(t, "secretsdb_pool_empty_acquire_wait_seconds_total") -
			before.value(t, "secretsdb_pool_empty_acquire_wait_seconds_total")
		if waited <= 0 || waited > hold.Seconds()+1 {
			t.Errorf("empty acquire wait grew by %gs, want up to the %s hold", waited, hold)
		}
	})
}

// Serialization failures retried by the Service are counted by SQLSTATE, once per retry.
// The pool runs every statement under REPEATABLE READ, where the first calls of a new
// user collide (C02).
func TestOpsMetricsRetries(t *testing.T) {
	t.Parallel()
	const workers = 32
	const maxRounds = 20
	var retries atomic.Int64
	api := newOpsAPI(t, opsConfig{
		NewPool: func(t *testing.T, db *testdb.DB) *pgxpool.Pool {
			return repeatableReadPool(t, db, workers)
		},
		Service: secrets.Options{OnRetry: func(error) { retries.Add(1) }},
	})

	for round := 1; round <= maxRounds && retries.Load() == 0; round++ {
		id := fmt.Sprintf("retry-metrics-%d", round)
		cookies := mintCookies(t, sessionClaims(id, id+"@example.com"))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := api.do(apiCtx(t), apiRequest{Method: http.MethodPost,
					Path: "/api/secrets", Body: mustJSON(t, secretBody()), Cookies: cookies})
				if err != nil || resp.Status != http.StatusCreated {
					t.Errorf("create: %v %d %s", err, resp.Status, resp.Body)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	if retries.Load() == 0 {
		t.Fatalf("no serialization failure in %d rounds of %d parallel first calls",
			maxRounds, workers)
	}

	s := scrapeMetrics(t, api.MetricsURL)
	var counted float64
	for series, v := range s {
		if strings.HasPrefix(series, "secretsdb_db_retries_total{") {
			counted += v
		}
	}
	if counted != float64(retries.Load()) {
		t.Fatalf("secretsdb_db_retries_total sums to %g, want the %d retries made",
			counted, retries.Load())
	}
	if s.value(t, `secretsdb_db_retries_total{sqlstate="40001"}`) < 1 {
		t.Fatalf("no retry counted under sqlstate 40001")
	}
}
