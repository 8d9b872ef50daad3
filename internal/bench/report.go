package bench

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a finished run, as --json prints it.
type Report struct {
	// Database is the scratch database's name; Kept says it was left in place.
	Database string `json:"database"`
	Kept     bool   `json:"kept"`

	Concurrency int `json:"concurrency"`
	Rounds      int `json:"rounds"`
	// DurationSeconds is each scenario's share of one round.
	DurationSeconds float64 `json:"duration_seconds"`
	// Users is how many users, and as many secrets, were seeded, in SeedSeconds.
	Users       int     `json:"users"`
	SeedSeconds float64 `json:"seed_seconds"`

	// Server holds the settings a result depends on, as SHOW prints them.
	Server map[string]string `json:"server"`

	Scenarios []ScenarioResult `json:"scenarios"`
	Ratios    []Ratio          `json:"ratios"`
}

// ScenarioResult sums a scenario over every round.
type ScenarioResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Ops counts successful operations; Errors counts failed ones.
	Ops    int64 `json:"ops"`
	Errors int64 `json:"errors"`
	// ErrorSamples holds up to five distinct error messages with their counts.
	ErrorSamples map[string]int64 `json:"error_samples,omitempty"`
	Seconds      float64          `json:"seconds"`
	// Throughput is successful operations per second over all rounds.
	Throughput float64 `json:"throughput"`
	// Latencies of successful operations over all rounds, in milliseconds.
	P50Ms  float64       `json:"p50_ms"`
	P95Ms  float64       `json:"p95_ms"`
	P99Ms  float64       `json:"p99_ms"`
	Rounds []RoundResult `json:"rounds"`
}

// RoundResult is a scenario in one round.
type RoundResult struct {
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"`
	P50Ms      float64 `json:"p50_ms"`
}

// Ratio compares a scenario's throughput with a baseline's, round by round: both ran in
// the same round, so drift of the machine between rounds cancels out.
type Ratio struct {
	Scenario string    `json:"scenario"`
	Baseline string    `json:"baseline"`
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	PerRound []float64 `json:"per_round"`
}

// comparisons are the ratios reported when both sides ran: every create path against
// the raw insert, the check-in against its raw pair, and the SQL API against the
// application-level path it replaces.
var comparisons = [][2]string{
	{CreateExisting, RawInsert},
	{CreateNew, RawInsert},
	{AppLevel, RawInsert},
	{AppLevelNew, RawInsert},
	{HTTPCreate, RawInsert},
	{CheckIn, RawCheckIn},
	{CreateExisting, AppLevel},
	{CreateNew, AppLevelNew},
	{HTTPCreate, CreateExisting},
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// summarize turns the rounds' samples (rounds[r][scenario]) into results and ratios.
func summarize(names []string, rounds []map[string]sample) ([]ScenarioResult, []Ratio) {
	results := make([]ScenarioResult, 0, len(names))
	for _, name := range names {
		res := ScenarioResult{Name: name, Description: describe(name)}
		var lat []time.Duration
		var elapsed time.Duration
		for _, round := range rounds {
			s := round[name]
			slices.Sort(s.lat)
			res.Rounds = append(res.Rounds, RoundResult{
				Ops:        s.ops,
				Errors:     s.errs,
				Seconds:    s.elapsed.Seconds(),
				Throughput: s.throughput(),
				P50Ms:      millis(percentile(s.lat, 50)),
			})
			res.Ops += s.ops
			res.Errors += s.errs
			elapsed += s.elapsed
			lat = append(lat, s.lat...)
			for msg, n := range s.errSamples {
				if res.ErrorSamples == nil {
					res.ErrorSamples = map[string]int64{}
				}
				if _, ok := res.ErrorSamples[msg]; ok || len(res.ErrorSamples) < maxErrorSamples {
					res.ErrorSamples[msg] += n
				}
			}
		}
		slices.Sort(lat)
		res.Seconds = elapsed.Seconds()
		if elapsed > 0 {
			res.Throughput = float64(res.Ops) / elapsed.Seconds()
		}
		res.P50Ms = millis(percentile(lat, 50))
		res.P95Ms = millis(percentile(lat, 95))
		res.P99Ms = millis(percentile(lat, 99))
		results = append(results, res)
	}
	return results, ratios(names, rounds)
}

func ratios(names []string, rounds []map[string]sample) []Ratio {
	var out []Ratio
	for _, c := range comparisons {
		if !slices.Contains(names, c[0]) || !slices.Contains(names, c[1]) {
			continue
		}
		r := Ratio{Scenario: c[0], Baseline: c[1]}
		for _, round := range rounds {
			if base := round[c[1]].throughput(); base > 0 {
				r.PerRound = append(r.PerRound, round[c[0]].throughput()/base)
			}
		}
		if len(r.PerRound) == 0 {
			continue
		}
		r.Median = median(r.PerRound)
		r.Min, r.Max = slices.Min(r.PerRound), slices.Max(r.PerRound)
		out = append(out, r)
	}
	return out
}

func describe(name string) string {
	for _, s := range scenarios {
		if s.name == name {
			return s.about
		}
	}
	return ""
}

// WriteText prints the report as tables for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "secretsdb bench: PostgreSQL %s, concurrency %d, %d round(s) of %s "+
		"per scenario, %d users and secrets seeded in %.1fs\n",
		r.Server["server_version"], r.Concurrency, r.Rounds,
		time.Duration(r.DurationSeconds*float64(time.Second)), r.Users, r.SeedSeconds)
	state := "dropped"
	if r.Kept {
		state = "kept; drop it with DROP DATABASE " + r.Database
	}
	fmt.Fprintf(&b, "database %s (%s)\n\n", r.Database, state)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}

	// Names are padded by hand so they stay left-aligned while the figures align right.
	width := len("scenario")
	for _, s := range r.Scenarios {
		width = max(width, len(s.Name))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tops/s\tp50 ms\tp95 ms\tp99 ms\tops\terrors\t\n", width, "scenario")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%-*s\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%d\t\n",
			width, s.Name, s.Throughput, s.P50Ms, s.P95Ms, s.P99Ms, s.Ops, s.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Ratios) > 0 {
		fmt.Fprintf(w, "\nthroughput ratio, median of %d round(s) [min, max]\n", r.Rounds)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, q := range r.Ratios {
			fmt.Fprintf(tw, "  %s / %s\t%.2fx\t[%.2f, %.2f]\n",
				q.Scenario, q.Baseline, q.Median, q.Min, q.Max)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	var errLines []string
	for _, s := range r.Scenarios {
		for msg, n := range s.ErrorSamples {
			errLines = append(errLines, fmt.Sprintf("  %s: %d x %s", s.Name, n, msg))
		}
	}
	if len(errLines) > 0 {
		sort.Strings(errLines)
		fmt.Fprintf(w, "\nerrors (up to %d distinct messages per scenario)\n%s\n",
			maxErrorSamples, strings.Join(errLines, "\n"))
	}

	keys := make([]string, 0, len(r.Server))
	for k := range r.Server {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "\nserver settings\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%s\n", k, r.Server[k])
	}
	return tw.Flush()
}
