package tests

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/ratelimit"
)

// opsSlowRate refills a bucket once every 100 seconds: no token comes back while a test
// runs, so the counts below do not depend on the machine's speed.
const opsSlowRate = 0.01

// After the burst, a user's next write is 429 with Retry-After, whichever write route it
// takes; another user still writes, and reads are not limited.
func TestOpsRateLimitPerUser(t *testing.T) {
	t.Parallel()
	api := newOpsAPI(t, opsConfig{RateLimit: opsSlowRate, Burst: 3, Keys: 100})
	alex := mintCookies(t, sessionClaims("rate-alex", "alex.rate@example.com"))
	sam := mintCookies(t, sessionClaims("rate-sam", "sam.rate@example.com"))

	first := requireCreated(t, api.createSecret(t, alex, secretBody()))
	requireCreated(t, api.createSecret(t, alex, secretBody()))
	if resp := api.checkIn(t, alex, first.ID); resp.Status != http.StatusOK {
		t.Fatalf("check-in within the burst: %d %s", resp.Status, resp.Body)
	}

	for name, resp := range map[string]apiResponse{
		"create":   api.createSecret(t, alex, secretBody()),
		"check-in": api.checkIn(t, alex, first.ID),
	} {
		e := requireError(t, resp, http.StatusTooManyRequests, "rate_limited", "")
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 100 {
			t.Fatalf("%s: Retry-After = %q, want whole seconds in 1..100 (one token per "+
				"100s)", name, resp.Header.Get("Retry-After"))
		}
		t.Logf("%s: 429, Retry-After %d: %s", name, secs, e.Error.Message)
	}
	requireRowCounts(t, api.DB, map[string]int{
		"users": 1, "secrets": 2, "checkin_history": 1, "audit_events": 4,
	})

	requireCreated(t, api.createSecret(t, sam, secretBody()))
	list := api.mustDo(t, apiRequest{Method: http.MethodGet, Path: "/api/secrets", Cookies: alex})
	if list.Status != http.StatusOK {
		t.Fatalf("listing while limited: %d %s, want reads unlimited", list.Status, list.Body)
	}

	s := waitScrape(t, api.MetricsURL, seriesRequests(routeCheckIn, 429), 1)
	if got := s.value(t, seriesRequests(routeCreate, 429)); got != 1 {
		t.Fatalf("429s counted on %s: %g, want 1", routeCreate, got)
	}
}

// The limit is checked once the session is read and before anything else: a limited
// request is 429 even when its body is invalid or its secret does not exist, and a
// request without a session is 401 and takes no bucket.
func TestOpsRateLimitBeforeDatabase(t *testing.T) {
	t.Parallel()
	api := newOpsAPI(t, opsConfig{RateLimit: opsSlowRate, Burst: 1, Keys: 100})
	cookies := mintCookies(t, sessionClaims("rate-order", "order.rate@example.com"))
	requireCreated(t, api.createSecret(t, cookies, secretBody()))

	bad := secretBody()
	bad["check_in_days"] = 0
	requireError(t, api.createSecret(t, cookies, bad), http.StatusTooManyRequests,
		"rate_limited", "")
	requireError(t, api.checkIn(t, cookies, "6d3f1c2a-9b8e-4f70-a1d2-3c4b5a697887"),
		http.StatusTooManyRequests, "rate_limited", "")
	requireError(t, api.createSecret(t, nil, secretBody()), http.StatusUnauthorized,
		"unauthenticated", "")

	if n := api.Limiter.Len(); n != 1 {
		t.Fatalf("limiter holds %d keys, want 1: the signed-in user only", n)
	}
	requireRowCounts(t, api.DB, map[string]int{"users": 1, "secrets": 1, "audit_events": 2})
}

// More users than --rate-limit-keys write: the limiter keeps only the most recent ones.
func TestOpsRateLimitKeysBounded(t *testing.T) {
	t.Parallel()
	const keys = 3
	api := newOpsAPI(t, opsConfig{RateLimit: opsSlowRate, Burst: 1, Keys: keys})

	for i := range 10 {
		id := fmt.Sprintf("rate-many-%d", i)
		requireCreated(t, api.createSecret(t,
			mintCookies(t, sessionClaims(id, id+"@example.com")), secretBody()))
		if n := api.Limiter.Len(); n > keys {
			t.Fatalf("after %d users the limiter holds %d keys, want at most %d", i+1, n, keys)
		}
	}
	if n := api.Limiter.Len(); n != keys {
		t.Fatalf("limiter holds %d keys, want %d", n, keys)
	}

	latest := mintCookies(t, sessionClaims("rate-many-9", "rate-many-9@example.com"))
	requireError(t, api.createSecret(t, latest, secretBody()), http.StatusTooManyRequests,
		"rate_limited", "")
}

// The bound holds at scale, and eviction is least recently used: a key that keeps
// writing stays limited while thousands of others pass through; the evicted ones come
// back with a full bucket, as documented.
func TestOpsRateLimiterLRU(t *testing.T) {
	t.Parallel()
	const keys = 100
	l, err := ratelimit.New(opsSlowRate, 1, keys)
	if err != nil {
		t.Fatalf("limiter: %v", err)
	}
	if ok, _ := l.Allow("busy"); !ok {
		t.Fatalf("first request of busy refused")
	}

	for i := range 10_000 {
		if ok, _ := l.Allow(fmt.Sprintf("user-%d", i)); !ok {
			t.Fatalf("first request of user-%d refused", i)
		}
		if i%50 == 0 {
			if ok, wait := l.Allow("busy"); ok || wait < 90*time.Second {
				t.Fatalf("busy after %d others: allowed %v, wait %s; want refused, ~100s",
					i, ok, wait)
			}
		}
		if n := l.Len(); n > keys {
			t.Fatalf("after %d keys the limiter holds %d, want at most %d", i+2, n, keys)
		}
	}

	if ok, _ := l.Allow("user-0"); !ok {
		t.Fatalf("user-0, evicted long ago, is still limited")
	}
	if ok, _ := l.Allow("user-9999"); ok {
		t.Fatalf("user-9999, the most recent key, was forgotten")
	}
}

// Invalid settings are refused with the value and the limit.
func TestOpsRateLimiterSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		rate    float64
		burst   int
		keys    int
		wantErr string
	}{
		{"ZeroRate", 0, 1, 1, "the rate must be above 0 per second, got 0"},
		{"ZeroBurst", 1, 0, 1, "the burst must be at least 1, got 0"},
		{"ZeroKeys", 1, 1, 0, "the key limit must be at least 1, got 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ratelimit.New(tc.rate, tc.burst, tc.keys)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("New(%g, %d, %d) = %v, want %q", tc.rate, tc.burst, tc.keys, err,
					tc.wantErr)
			}
		})
	}
}
