package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsdb/secretsdb/internal/cli"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

// benchJSON is the part of `secretsdb bench --json` that scripts read.
type benchJSON struct {
	Database  string `json:"database"`
	Kept      bool   `json:"kept"`
	Users     int    `json:"users"`
	Scenarios []struct {
		Name       string           `json:"name"`
		Ops        int64            `json:"ops"`
		Errors     int64            `json:"errors"`
		Samples    map[string]int64 `json:"error_samples"`
		Throughput float64          `json:"throughput"`
		P50Ms      float64          `json:"p50_ms"`
		P95Ms      float64          `json:"p95_ms"`
		P99Ms      float64          `json:"p99_ms"`
		Rounds     []struct {
			Ops int64 `json:"ops"`
		} `json:"rounds"`
	} `json:"scenarios"`
	Ratios []struct {
		Scenario string    `json:"scenario"`
		Baseline string    `json:"baseline"`
		Median   float64   `json:"median"`
		Min      float64   `json:"min"`
		Max      float64   `json:"max"`
		PerRound []float64 `json:"per_round"`
	} `json:"ratios"`
	Server map[string]string `json:"server"`
}

// runBench runs `secretsdb bench` in process against the test server, short and small,
// and returns its parsed --json output and its stderr.
func runBench(t *testing.T, args ...string) (benchJSON, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	full := append([]string{
		"bench", "--database-url", testdb.ServerURL(t),
		"--duration", "300ms", "--rounds", "1", "--users", "100", "--concurrency", "4",
		"--json",
	}, args...)
	var stdout, stderr bytes.Buffer
	if code := cli.Run(ctx, full, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("secretsdb %s: exit %d\nstderr:\n%s", strings.Join(full, " "), code, &stderr)
	}
	var rep benchJSON
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("parsing --json output: %v\n%s", err, &stdout)
	}
	return rep, stderr.String()
}

// databaseExists asks the server whether a database of that name exists.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testdb.ServerURL(t))
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)

	var exists bool
	err = conn.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatalf("looking up database %s: %v", name, err)
	}
	return exists
}

func TestBenchReportsEveryScenarioAndDropsItsDatabase(t *testing.T) {
	t.Parallel()

	rep, stderr := runBench(t)

	want := []string{"raw-insert", "create-existing", "create-new", "app-level",
		"raw-check-in", "check-in", "http-create"}
	if len(rep.Scenarios) != len(want) {
		t.Fatalf("got %d scenarios, want %d: %+v", len(rep.Scenarios), len(want), rep.Scenarios)
	}
	for i, s := range rep.Scenarios {
		if s.Name != want[i] {
			t.Errorf("scenario %d is %q, want %q (run order)", i, s.Name, want[i])
		}
		if s.Errors != 0 {
			t.Errorf("%s: %d errors: %v", s.Name, s.Errors, s.Samples)
		}
		if s.Ops == 0 || s.Throughput <= 0 || len(s.Rounds) != 1 {
			t.Errorf("%s: ops %d, throughput %v, %d rounds; want work done in 1 round",
				s.Name, s.Ops, s.Throughput, len(s.Rounds))
		}
		if !(0 < s.P50Ms && s.P50Ms <= s.P95Ms && s.P95Ms <= s.P99Ms) {
			t.Errorf("%s: p50 %v, p95 %v, p99 %v ms; want 0 < p50 <= p95 <= p99",
				s.Name, s.P50Ms, s.P95Ms, s.P99Ms)
		}
	}

	ratios := map[string]bool{}
	for _, r := range rep.Ratios {
		ratios[r.Scenario+" / "+r.Baseline] = true
		if len(r.PerRound) != 1 || r.Median <= 0 || r.Min > r.Median || r.Median > r.Max {
			t.Errorf("%s / %s: median %v [%v, %v] over %v; want one positive round",
				r.Scenario, r.Baseline, r.Median, r.Min, r.Max, r.PerRound)
		}
	}
	for _, name := range []string{
		"create-existing / raw-insert", "create-new / raw-insert", "app-level / raw-insert",
		"http-create / raw-insert", "check-in / raw-check-in", "create-existing / app-level",
	} {
		if !ratios[name] {
			t.Errorf("ratio %s missing; got %v", name, ratios)
		}
	}

	if rep.Users != 100 || rep.Server["synchronous_commit"] == "" {
		t.Errorf("users %d, server settings %v; want 100 users and the settings reported",
			rep.Users, rep.Server)
	}
	if !strings.Contains(stderr, "round 1/1 http-create") {
		t.Errorf("stderr has no progress line for http-create:\n%s", stderr)
	}
	if !strings.HasPrefix(rep.Database, "secretsdb_bench_") || rep.Kept {
		t.Errorf("database %q, kept %v; want a secretsdb_bench_ scratch database, dropped",
			rep.Database, rep.Kept)
	}
	if databaseExists(t, rep.Database) {
		t.Errorf("scratch database %s still exists after a run without --keep", rep.Database)
	}
}

func TestBenchKeepLeavesTheSeededDatabase(t *testing.T) {
	t.Parallel()

	rep, _ := runBench(t, "--keep", "--scenarios", "raw-insert")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, testdb.ServerURL(t))
		if err != nil {
			t.Errorf("connecting to drop %s: %v", rep.Database, err)
			return
		}
		defer conn.Close(ctx)
		stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{rep.Database}.Sanitize() + " WITH (FORCE)"
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Errorf("dropping kept database %s: %v", rep.Database, err)
		}
	})

	if !rep.Kept || !databaseExists(t, rep.Database) {
		t.Fatalf("database %q, kept %v: want it reported kept and present", rep.Database, rep.Kept)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != "raw-insert" || len(rep.Ratios) != 0 {
		t.Errorf("scenarios %+v, ratios %+v: want raw-insert alone, without ratios",
			rep.Scenarios, rep.Ratios)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = rep.Database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connecting to kept database: %v", err)
	}
	defer conn.Close(ctx)
	var users, seeded int
	err = conn.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM users),
		       (SELECT count(*) FROM secrets WHERE title = 'Letter' AND user_id IN
		            (SELECT id FROM users))`).Scan(&users, &seeded)
	if err != nil {
		t.Fatal(err)
	}
	if users != 100 || int64(seeded) < 100+rep.Scenarios[0].Ops {
		t.Errorf("kept database has %d users and %d secrets; want 100 users and at least "+
			"100 seeded + %d inserted secrets", users, seeded, rep.Scenarios[0].Ops)
	}
}

func TestBenchRefusesBadFlagsBeforeTouchingTheServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ZeroRounds", []string{"--rounds", "0"}, "--rounds must be 1..1000, got 0"},
		{"NoUsers", []string{"--users", "0"}, "--users must be 1..100000000, got 0"},
		{"TinyDuration", []string{"--duration", "1ms"}, "--duration must be at least 10ms"},
		{"UnknownScenario", []string{"--scenarios", "raw-insert,bulk"}, `unknown scenario "bulk"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			args := append([]string{"bench", "--database-url", "postgres://nobody@127.0.0.1:1/x"},
				tc.args...)
			var stdout, stderr bytes.Buffer

			code := cli.Run(ctx, args, &stdout, &stderr)

			if code != cli.ExitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q",
					code, stderr.String(), cli.ExitUsage, tc.want)
			}
		})
	}
}
