package bench

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	var lat []time.Duration
	for i := 1; i <= 200; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}

	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 100 * time.Millisecond},
		{95, 190 * time.Millisecond},
		{99, 198 * time.Millisecond},
		{100, 200 * time.Millisecond},
		{0.1, 1 * time.Millisecond},
	} {
		if got := percentile(lat, tc.p); got != tc.want {
			t.Errorf("percentile(1..200 ms, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of no samples = %v, want 0", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile of one sample = %v, want that sample", got)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{0.9}, 0.9},
		{nil, 0},
	} {
		in := slices.Clone(tc.xs)
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
		if !slices.Equal(in, tc.xs) {
			t.Errorf("median reordered its input: %v became %v", in, tc.xs)
		}
	}
}

// TestRatiosAreTakenWithinEachRound: a round that is slow for everyone must not move the
// ratio, which a ratio of totals would let it do.
func TestRatiosAreTakenWithinEachRound(t *testing.T) {
	t.Parallel()
	round := func(raw, create int64) map[string]sample {
		return map[string]sample{
			RawInsert:      {ops: raw, elapsed: time.Second},
			CreateExisting: {ops: create, elapsed: time.Second},
		}
	}
	rounds := []map[string]sample{round(1000, 900), round(100, 95), round(1000, 800)}

	_, got := summarize([]string{RawInsert, CreateExisting}, rounds)

	if len(got) != 1 {
		t.Fatalf("got %d ratios, want 1 (create-existing / raw-insert): %+v", len(got), got)
	}
	r := got[0]
	if r.Scenario != CreateExisting || r.Baseline != RawInsert {
		t.Errorf("ratio is %s / %s, want create-existing / raw-insert", r.Scenario, r.Baseline)
	}
	if r.Median != 0.9 || r.Min != 0.8 || r.Max != 0.95 {
		t.Errorf("median, min, max = %v, %v, %v; want 0.9, 0.8, 0.95", r.Median, r.Min, r.Max)
	}
}

func TestSummarizeAddsUpRounds(t *testing.T) {
	t.Parallel()
	rounds := []map[string]sample{
		{RawInsert: {ops: 3, errs: 1, elapsed: time.Second,
			lat:        []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond},
			errSamples: map[string]int64{"boom": 1}}},
		{RawInsert: {ops: 1, elapsed: time.Second, lat: []time.Duration{4 * time.Millisecond}}},
	}

	res, ratios := summarize([]string{RawInsert}, rounds)

	if len(ratios) != 0 {
		t.Errorf("a lone baseline has no ratios, got %+v", ratios)
	}
	s := res[0]
	if s.Ops != 4 || s.Errors != 1 || s.Throughput != 2 || len(s.Rounds) != 2 {
		t.Errorf("ops, errors, throughput, rounds = %d, %d, %v, %d; want 4, 1, 2, 2",
			s.Ops, s.Errors, s.Throughput, len(s.Rounds))
	}
	if s.P50Ms != 2 || s.P99Ms != 4 {
		t.Errorf("p50, p99 = %v, %v ms; want 2, 4 (over both rounds)", s.P50Ms, s.P99Ms)
	}
	if s.ErrorSamples["boom"] != 1 {
		t.Errorf("error samples = %v, want boom: 1", s.ErrorSamples)
	}
}

func TestSelectScenarios(t *testing.T) {
	t.Parallel()
	got, err := selectScenarios([]string{CheckIn, RawInsert, CheckIn})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{RawInsert, CheckIn}; !slices.Equal(got, want) {
		t.Errorf("selectScenarios = %v, want %v in run order without repeats", got, want)
	}

	if _, err := selectScenarios([]string{"raw-inserts"}); err == nil ||
		!strings.Contains(err.Error(), `"raw-inserts"`) {
		t.Errorf("an unknown scenario gave %v, want an error naming it", err)
	}

	def, _ := selectScenarios(nil)
	if slices.Contains(def, AppLevelNew) || len(def) != len(scenarios)-1 {
		t.Errorf("default scenarios = %v, want all but %s", def, AppLevelNew)
	}
}

func TestSeededIdentities(t *testing.T) {
	t.Parallel()
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 999_999, 1_000_000, MaxUsers - 1} {
		id, sid := userID(i), uuidText(secretID(i))
		if len(id) != 21 {
			t.Errorf("userID(%d) = %q, want 21 digits like a Google subject", i, id)
		}
		if !uuid.MatchString(sid) {
			t.Errorf("secretID(%d) = %s, want a version 4 UUID", i, sid)
		}
		if seen[id] || seen[sid] {
			t.Errorf("user %d reuses an id: %s / %s", i, id, sid)
		}
		seen[id], seen[sid] = true, true
	}
}
