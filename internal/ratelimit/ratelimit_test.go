package ratelimit

import (
	"testing"
	"time"
)

// The wait is the time until the next token, and a refused request takes none: asking
// again does not push the wait further out.
func TestAllowWait(t *testing.T) {
	t.Parallel()
	l, err := New(0.5, 2, 10)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	now := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)

	for i := range 2 {
		if ok, _ := l.allowAt("u", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	for range 3 {
		ok, wait := l.allowAt("u", now.Add(500*time.Millisecond))
		if ok || wait != 1500*time.Millisecond {
			t.Fatalf("after the burst: allowed %v, wait %s; want refused, 1.5s", ok, wait)
		}
	}
	if ok, _ := l.allowAt("u", now.Add(2*time.Second)); !ok {
		t.Fatalf("refused after the token came back")
	}
	if ok, _ := l.allowAt("other", now); !ok {
		t.Fatalf("another key shares u's bucket")
	}
}
