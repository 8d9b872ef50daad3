// Package ratelimit keeps one token bucket per key (a user id) in a bounded LRU, so a
// server's memory stays flat however many users write.
//
// A key evicted from the LRU comes back with a full bucket. That only happens to the
// least recently seen key once MaxKeys others have written since, so size MaxKeys above
// the number of users active within a few burst periods.
package ratelimit

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Limiter answers whether a key may make one more request now. It is safe for concurrent
// use.
type Limiter struct {
	limit rate.Limit
	burst int

	// mu guards buckets: simplelru is not synchronised, and a Get reorders it.
	mu      sync.Mutex
	buckets *simplelru.LRU[string, *rate.Limiter]
}

// New returns a Limiter that lets each key make perSecond requests a second on average,
// up to burst at once, remembering at most maxKeys keys.
func New(perSecond float64, burst, maxKeys int) (*Limiter, error) {
	if perSecond <= 0 {
		return nil, fmt.Errorf("the rate must be above 0 per second, got %g", perSecond)
	}
	if burst < 1 {
		return nil, fmt.Errorf("the burst must be at least 1, got %d", burst)
	}
	if maxKeys < 1 {
		return nil, fmt.Errorf("the key limit must be at least 1, got %d", maxKeys)
	}
	buckets, err := simplelru.NewLRU[string, *rate.Limiter](maxKeys, nil)
	if err != nil {
		return nil, err
	}
	return &Limiter{limit: rate.Limit(perSecond), burst: burst, buckets: buckets}, nil
}

// Allow takes a token from key's bucket. When the bucket is empty it takes nothing and
// returns false with the time until a token is available.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	return l.allowAt(key, time.Now())
}

func (l *Limiter) allowAt(key string, now time.Time) (bool, time.Duration) {
	b := l.bucket(key)
	r := b.ReserveN(now, 1)
	if !r.OK() {
		// Only a request larger than the burst is refused outright; one token never is.
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		// A refused request must not queue behind the ones that come after it.
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *Limiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets.Get(key); ok {
		return b
	}
	b := rate.NewLimiter(l.limit, l.burst)
	l.buckets.Add(key, b)
	return b
}

// Len returns how many keys are remembered, at most the maxKeys given to New.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buckets.Len()
}
