package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorSamples bounds the distinct error messages kept per scenario: a failing
// scenario fails the same way thousands of times.
const maxErrorSamples = 5

// sample is what one scenario did in one round.
type sample struct {
	ops     int64
	errs    int64
	elapsed time.Duration
	// lat holds the latency of every successful operation.
	lat []time.Duration
	// errSamples counts the first distinct error messages.
	errSamples map[string]int64
}

// runner runs scenarios with a fixed set of workers, whose random streams carry on from
// one round to the next.
type runner struct {
	env     *env
	workers []*worker
	prog    *progress
}

func newRunner(e *env, concurrency int, prog *progress) *runner {
	r := &runner{env: e, prog: prog}
	for i := range concurrency {
		seed := uint64(time.Now().UnixNano())
		r.workers = append(r.workers, &worker{rng: rand.New(rand.NewPCG(seed, uint64(i)))})
	}
	return r
}

// measure runs sc on every worker for d. A worker starts no operation after d has
// passed and finishes the one it is in, so elapsed runs to the last completion and
// throughput counts only whole operations.
func (r *runner) measure(ctx context.Context, sc scenario, d time.Duration, label string) sample {
	var ops, errs atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	stop := r.prog.every(250*time.Millisecond, func() string {
		el := time.Since(start)
		return fmt.Sprintf("%s %-16s %5.1fs of %s  %7d ops  %7.0f ops/s  %d errors",
			label, sc.name, el.Seconds(), d, ops.Load(),
			float64(ops.Load())/el.Seconds(), errs.Load())
	})

	parts := make([]sample, len(r.workers))
	var wg sync.WaitGroup
	for k, w := range r.workers {
		wg.Go(func() {
			p := &parts[k]
			p.lat = make([]time.Duration, 0, 1024)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := sc.op(r.env, ctx, w)
				lat := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errs.Add(1)
					p.addError(err)
					continue
				}
				ops.Add(1)
				p.lat = append(p.lat, lat)
			}
		})
	}
	wg.Wait()
	stop()

	s := sample{elapsed: time.Since(start), errSamples: map[string]int64{}}
	for _, p := range parts {
		s.lat = append(s.lat, p.lat...)
		for msg, n := range p.errSamples {
			s.addErrorMessage(msg, n)
		}
	}
	s.ops, s.errs = int64(len(s.lat)), errs.Load()
	return s
}

func (s *sample) addError(err error) { s.addErrorMessage(err.Error(), 1) }

func (s *sample) addErrorMessage(msg string, n int64) {
	if s.errSamples == nil {
		s.errSamples = map[string]int64{}
	}
	if _, ok := s.errSamples[msg]; ok || len(s.errSamples) < maxErrorSamples {
		s.errSamples[msg] += n
	}
}

// throughput is successful operations per second.
func (s sample) throughput() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ops) / s.elapsed.Seconds()
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// median returns the median of xs, the mean of the middle two for an even count.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
