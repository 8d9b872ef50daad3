package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsdb/secretsdb/internal/bench"
)

type benchOptions struct {
	concurrency int
	duration    time.Duration
	rounds      int
	users       int
	scenarios   []string
	keep        bool
	json        bool
}

func newBenchCommand(g *globals) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the SQL API against a raw insert and the application-level path",
		Long: `Measure create_secret and record_check_in beside what an application would send
instead, as pgbench measures PostgreSQL. The command creates a scratch database on the
server (the role needs CREATEDB), migrates it, seeds --users users and as many secrets
with COPY, and runs the scenarios interleaved, round by round, over one pool of
--concurrency connections. It prints each scenario's throughput, p50/p95/p99 latency and
errors, and the throughput ratios to the baselines (median over rounds, with min and max).
The scratch database is dropped at the end unless --keep is given.

Scenarios (default: all but app-level-new):
  raw-insert       INSERT INTO secrets for an existing user: the floor, one round trip
  create-existing  CALL create_secret through the generated wrapper, existing user
  create-new       CALL create_secret for a never-seen user id each call
  app-level        what an application sends without the SQL API, existing user:
                   SELECT the user by id, INSERT the secret (by email and INSERT user only
                   when the id is missing), each a round trip of its own
  app-level-new    the same for a never-seen user: four round trips, none atomic
  raw-check-in     UPDATE secrets + INSERT checkin_history in one transaction
  check-in         CALL record_check_in through the generated wrapper
  http-create      POST /api/secrets through the HTTP handler, in process, with a
                   session cookie minted for a seeded user

Each scenario runs for --duration in every round, after a short unrecorded warm-up.
The database's settings (shared_buffers, synchronous_commit, ...) are printed with the
results, since they move the figures more than anything measured here.`,
		Example: `  secretsdb bench --database-url postgres://postgres@127.0.0.1:5432/postgres \
      --duration 5s --rounds 3
  secretsdb bench --users 1000000 --scenarios raw-insert,create-existing --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.concurrency, "concurrency", 8, "client loops, and connections in the pool")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "how long each scenario runs per round")
	f.IntVar(&o.rounds, "rounds", 3, "how many times each scenario runs")
	f.IntVar(&o.users, "users", 10_000, "users seeded, each with one secret")
	f.StringSliceVar(&o.scenarios, "scenarios", nil,
		"comma-separated scenarios to run (default: all but app-level-new)")
	f.BoolVar(&o.keep, "keep", false, "keep the scratch database for inspection")
	f.BoolVar(&o.json, "json", false, "print the results as JSON")
	return cmd
}

func runBench(cmd *cobra.Command, g *globals, o benchOptions) error {
	switch {
	case o.concurrency < 1 || o.concurrency > bench.MaxConcurrency:
		return usageError{fmt.Errorf("--concurrency must be 1..%d, got %d",
			bench.MaxConcurrency, o.concurrency)}
	case o.duration < bench.MinDuration:
		return usageError{fmt.Errorf("--duration must be at least %s, got %s",
			bench.MinDuration, o.duration)}
	case o.rounds < 1 || o.rounds > bench.MaxRounds:
		return usageError{fmt.Errorf("--rounds must be 1..%d, got %d", bench.MaxRounds, o.rounds)}
	case o.users < 1 || o.users > bench.MaxUsers:
		return usageError{fmt.Errorf("--users must be 1..%d, got %d", bench.MaxUsers, o.users)}
	}
	all := bench.ScenarioNames()
	for _, s := range o.scenarios {
		if !slices.Contains(all, s) {
			return usageError{fmt.Errorf("--scenarios: unknown scenario %q; choose from %s",
				s, strings.Join(all, ", "))}
		}
	}

	cfg, err := g.connConfig()
	if err != nil {
		return err
	}
	rep, err := bench.Run(cmd.Context(), bench.Options{
		Server:      cfg,
		Concurrency: o.concurrency,
		Duration:    o.duration,
		Rounds:      o.rounds,
		Users:       o.users,
		Scenarios:   o.scenarios,
		Keep:        o.keep,
		Progress:    g.stderr,
		ProgressTTY: isTerminal(g.stderr),
		Logger:      g.logger,
	})
	if err != nil {
		return fmt.Errorf("benchmark on %s: %w", describe(cfg), err)
	}

	if o.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(g.stdout)
}

// isTerminal reports whether w is a character device, where a progress line can be
// redrawn in place.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
