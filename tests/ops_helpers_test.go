package tests

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/secretsdb/secretsdb/internal/httpapi"
	"github.com/secretsdb/secretsdb/internal/metrics"
	"github.com/secretsdb/secretsdb/internal/ratelimit"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

// opsConfig tunes newOpsAPI. The zero value has metrics and no rate limit.
type opsConfig struct {
	// RateLimit, Burst and Keys configure a write limiter when RateLimit is above 0.
	RateLimit float64
	Burst     int
	Keys      int
	// NewPool, when set, opens the API's pool on the test database, for tests that size
	// or tune it; default the database's own pool.
	NewPool func(t *testing.T, db *testdb.DB) *pgxpool.Pool
	// Service is passed to secrets.New, with the metric hooks added.
	Service secrets.Options
}

// opsAPI is the API wired as `secretsdb serve` wires it, with a private registry served
// by a second server, as --metrics-addr does.
type opsAPI struct {
	*apiEnv
	Limiter    *ratelimit.Limiter
	MetricsURL string
}

// newOpsAPI starts the API over a freshly migrated database with metrics and, when asked,
// a rate limiter.
func newOpsAPI(t *testing.T, cfg opsConfig) *opsAPI {
	t.Helper()
	db := testdb.New(t)
	pool := db.Pool
	if cfg.NewPool != nil {
		pool = cfg.NewPool(t, db)
	}

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	if err := reg.Register(metrics.NewPoolCollector(pool.Stat)); err != nil {
		t.Fatalf("pool collector: %v", err)
	}
	msrv := httptest.NewServer(metrics.Handler(reg))
	t.Cleanup(msrv.Close)

	decoder, err := session.NewDecoder(session.Config{Secrets: []string{apiSecret}})
	if err != nil {
		t.Fatalf("session decoder: %v", err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := cfg.Service
	opts.Logger = logger
	retried := opts.OnRetry
	opts.OnRetry = func(err error) {
		if retried != nil {
			retried(err)
		}
		m.Retried(err)
	}
	opts.OnUserProvisioned = func(o secrets.Outcome) { m.UserProvisioned(string(o)) }
	opts.OnSecretCreated = m.SecretCreated
	opts.OnCheckIn = m.CheckedIn

	hcfg := httpapi.Config{
		Service:        secrets.New(pool, opts),
		Sessions:       decoder,
		Logger:         logger,
		ObserveRequest: m.ObserveRequest,
	}
	var limiter *ratelimit.Limiter
	if cfg.RateLimit > 0 {
		limiter, err = ratelimit.New(cfg.RateLimit, cfg.Burst, cfg.Keys)
		if err != nil {
			t.Fatalf("rate limiter: %v", err)
		}
		hcfg.WriteLimiter = limiter
	}
	srv := httptest.NewServer(httpapi.New(hcfg))
	t.Cleanup(srv.Close)

	env := &apiEnv{DB: db, Pool: pool, Srv: srv, BaseURL: srv.URL, Client: srv.Client(),
		Logs: logs}
	return &opsAPI{apiEnv: env, Limiter: limiter, MetricsURL: msrv.URL}
}

// scrape is one read of /metrics: each sample's value by its series as the text format
// prints it, e.g. `secretsdb_http_requests_total{route="POST /api/secrets",status="201"}`.
type scrape map[string]float64

// scrapeMetrics reads url (a /metrics endpoint) and parses the text format.
func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	req, err := http.NewRequestWithContext(apiCtx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("scrape request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scraping %s: %d %s", url, resp.StatusCode, b)
	}

	out := scrape{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("scrape line %q is not `series value`", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading scrape: %v", err)
	}
	return out
}

// value returns a series' value, failing when the scrape lacks it.
func (s scrape) value(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := s[series]
	if !ok {
		t.Fatalf("the scrape has no series %s", series)
	}
	return v
}

// requireDelta fails unless each series moved from before to after by exactly its
// delta. A series absent from both scrapes counts as 0 only when its delta is 0.
func requireDelta(t *testing.T, before, after scrape, deltas map[string]float64) {
	t.Helper()
	for series, want := range deltas {
		got := after[series] - before[series]
		if _, ok := after[series]; !ok && want != 0 {
			t.Errorf("the scrape has no series %s, want it moved by %g", series, want)
			continue
		}
		if got != want {
			t.Errorf("%s moved by %g, want %g", series, got, want)
		}
	}
}

// The request counter is incremented after the response is written, so a client can read
// the response before the count lands; waitScrape polls until series reaches at least
// want, then returns that scrape for the exact checks.
func waitScrape(t *testing.T, url, series string, want float64) scrape {
	t.Helper()
	var s scrape
	waitFor(t, series+" to reach "+strconv.FormatFloat(want, 'g', -1, 64), func() bool {
		s = scrapeMetrics(t, url)
		return s[series] >= want
	})
	return s
}

// Series the tests read.
const (
	seriesSecretsCreated = `secretsdb_secrets_created_total`
	seriesCheckIns       = `secretsdb_check_ins_total`
	seriesUsersCreated   = `secretsdb_users_provisioned_total{outcome="created"}`
	seriesUsersLinked    = `secretsdb_users_provisioned_total{outcome="linked"}`
)

// seriesRequests names the request counter of one route and status.
func seriesRequests(route string, status int) string {
	return `secretsdb_http_requests_total{route="` + route + `",status="` +
		strconv.Itoa(status) + `"}`
}

// seriesLatencyCount names the request histogram's count for a route.
func seriesLatencyCount(route string) string {
	return `secretsdb_http_request_duration_seconds_count{route="` + route + `"}`
}

const (
	routeCreate  = "POST /api/secrets"
	routeCheckIn = "POST /api/secrets/{id}/check-in"
)

// sizedPool opens a pool of at most n connections on db, closed when the test ends.
func sizedPool(t *testing.T, db *testdb.DB, n int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	cfg.MaxConns = n
	pool, err := pgxpool.NewWithConfig(apiCtx(t), cfg)
	if err != nil {
		t.Fatalf("pool of %d: %v", n, err)
	}
	t.Cleanup(pool.Close)
	return pool
}
