// Package bench measures the SQL API the way pgbench measures PostgreSQL: on a scratch
// database it creates, migrates and seeds, it runs create_secret and record_check_in
// beside what an application would send instead (a raw INSERT, the application-level
// lookups, a raw UPDATE + INSERT pair) and beside the HTTP handler, over one pgx pool
// with a fixed number of client loops, and reports throughput, latency percentiles and
// ratios to the baselines.
//
// Scenarios run interleaved, round by round (A B C, A B C, ...), so that drift of the
// machine (a checkpoint, autovacuum, a noisy neighbour) hits every scenario alike, and
// ratios are taken within a round before the median over rounds.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/dbq"
)

// Limits of Options, so a typo cannot ask for a week-long run or a billion users.
const (
	MaxConcurrency = 1024
	MaxRounds      = 1000
	MaxUsers       = 100_000_000
	MinDuration    = 10 * time.Millisecond
)

// dropTimeout bounds dropping the scratch database, which happens even after the run's
// context is cancelled.
const dropTimeout = time.Minute

// serverSettings are reported with every run: the settings that move commit latency,
// caching and planning.
var serverSettings = []string{
	"server_version",
	"shared_buffers",
	"effective_cache_size",
	"work_mem",
	"synchronous_commit",
	"fsync",
	"wal_sync_method",
	"full_page_writes",
	"wal_level",
	"max_wal_size",
	"checkpoint_timeout",
	"commit_delay",
	"max_connections",
	"jit",
	"shared_preload_libraries",
}

// Options configure Run.
type Options struct {
	// Server is where the scratch database is created; its Database is only used to
	// connect for CREATE DATABASE and DROP DATABASE. The role needs CREATEDB.
	Server *pgx.ConnConfig
	// Concurrency is the number of client loops and of pooled connections. Default 8.
	Concurrency int
	// Duration is how long each scenario runs in each round. Default 5s.
	Duration time.Duration
	// Rounds is how many times every scenario runs. Default 3.
	Rounds int
	// Users is how many users, each with one secret, are seeded. Default 10,000.
	Users int
	// Scenarios names the scenarios to run; nil means DefaultScenarios().
	Scenarios []string
	// Keep leaves the scratch database in place for inspection.
	Keep bool
	// Progress receives the progress line (normally stderr); nil discards it.
	// ProgressTTY redraws the line in place instead of writing one line per step.
	Progress    io.Writer
	ProgressTTY bool
	// Logger receives lifecycle messages. Default: discard.
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	if o.Users == 0 {
		o.Users = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Server == nil:
		return errors.New("no server to create the scratch database on")
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency must be 1..%d, got %d", MaxConcurrency, o.Concurrency)
	case o.Duration < MinDuration:
		return fmt.Errorf("duration must be at least %s, got %s", MinDuration, o.Duration)
	case o.Rounds < 1 || o.Rounds > MaxRounds:
		return fmt.Errorf("rounds must be 1..%d, got %d", MaxRounds, o.Rounds)
	case o.Users < 1 || o.Users > MaxUsers:
		return fmt.Errorf("users must be 1..%d, got %d", MaxUsers, o.Users)
	}
	names, err := selectScenarios(o.Scenarios)
	o.Scenarios = names
	return err
}

// selectScenarios returns the named scenarios in run order, or the default ones.
func selectScenarios(names []string) ([]string, error) {
	if len(names) == 0 {
		return DefaultScenarios(), nil
	}
	all := ScenarioNames()
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("unknown scenario %q; the scenarios are %v", n, all)
		}
	}
	var out []string
	for _, n := range all {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Run creates and migrates a scratch database, seeds it, measures the scenarios and,
// unless o.Keep, drops the database again, also when the run fails or is cancelled.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	logger := o.Logger.With("component", "bench")
	prog := newProgress(o.Progress, o.ProgressTTY)

	name := newScratchName()
	if err := databaseDDL(ctx, o.Server, true, name); err != nil {
		return nil, fmt.Errorf("creating scratch database %s: %w", name, err)
	}
	logger.InfoContext(ctx, "scratch database created", "database", name)
	if o.Keep {
		defer func() {
			if err != nil {
				err = fmt.Errorf("%w (scratch database %s kept)", err, name)
			}
		}()
	} else {
		defer func() {
			dropCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropTimeout)
			defer cancel()
			if dropErr := databaseDDL(dropCtx, o.Server, false, name); dropErr != nil {
				err = errors.Join(err, fmt.Errorf("dropping scratch database %s: %w",
					name, dropErr))
				return
			}
			logger.InfoContext(ctx, "scratch database dropped", "database", name)
		}()
	}

	cfg := o.Server.Copy()
	cfg.Database = name
	if err := migrateScratch(ctx, cfg, logger); err != nil {
		return nil, err
	}
	pool, err := newPool(ctx, cfg, o.Concurrency)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	rep = &Report{
		Database:        name,
		Kept:            o.Keep,
		Concurrency:     o.Concurrency,
		Rounds:          o.Rounds,
		DurationSeconds: o.Duration.Seconds(),
		Users:           o.Users,
	}
	if rep.Server, err = readSettings(ctx, pool); err != nil {
		return nil, err
	}

	share := randomShare()
	start := time.Now()
	if err := seed(ctx, pool, o.Users, share, prog); err != nil {
		return nil, err
	}
	if err := dbq.New(pool).BenchAnalyze(ctx); err != nil {
		return nil, fmt.Errorf("analyzing seeded tables: %w", err)
	}
	rep.SeedSeconds = time.Since(start).Seconds()
	prog.done(fmt.Sprintf("seeded %d users and %d secrets in %.1fs",
		o.Users, o.Users, rep.SeedSeconds))

	e, err := newEnv(pool, o.Users, share)
	if err != nil {
		return nil, err
	}
	rounds, err := measureRounds(ctx, newRunner(e, o.Concurrency, prog), o)
	if err != nil {
		return nil, err
	}
	rep.Scenarios, rep.Ratios = summarize(o.Scenarios, rounds)
	return rep, nil
}

// measureRounds warms every scenario up, then runs the rounds.
func measureRounds(ctx context.Context, r *runner, o Options) ([]map[string]sample, error) {
	byName := make(map[string]scenario, len(scenarios))
	for _, s := range scenarios {
		byName[s.name] = s
	}

	// A short unrecorded pass fills every connection's statement cache and the buffer
	// cache, which would otherwise count against whichever scenario runs first.
	warmup := min(o.Duration/5, time.Second)
	for _, name := range o.Scenarios {
		r.measure(ctx, byName[name], warmup, "warm-up")
	}

	var rounds []map[string]sample
	for i := range o.Rounds {
		label := fmt.Sprintf("round %d/%d", i+1, o.Rounds)
		round := make(map[string]sample, len(o.Scenarios))
		for _, name := range o.Scenarios {
			s := r.measure(ctx, byName[name], o.Duration, label)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			slices.Sort(s.lat)
			r.prog.done(fmt.Sprintf("%s %-16s %7.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  %d errors",
				label, name, s.throughput(), millis(percentile(s.lat, 50)),
				millis(percentile(s.lat, 99)), s.errs))
			round[name] = s
		}
		rounds = append(rounds, round)
	}
	return rounds, nil
}

func newPool(ctx context.Context, cfg *pgx.ConnConfig, size int) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pc.ConnConfig = cfg
	pc.MaxConns = int32(size)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Database, err)
	}
	return pool, nil
}

func readSettings(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	rows, err := dbq.New(pool).BenchServerSettings(ctx, serverSettings)
	if err != nil {
		return nil, fmt.Errorf("reading server settings: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Name.String] = r.Setting.String
	}
	return out, nil
}

// randomShare returns a server share of the size the web app stores: 32 random bytes,
// hex-encoded with a version prefix.
func randomShare() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "801" + hex.EncodeToString(b)
}
