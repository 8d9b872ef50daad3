package tests

import (
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// C18: every route works in each of pgx's query exec modes, and the modes recommended
// behind a transaction-pooling PgBouncer leave no named prepared statement on the server
// connection, the state that fails with 42P05 or 26000 once the pooler switches the
// client to another server connection.
func TestOpsQueryExecModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		mode     pgx.QueryExecMode
		prepares bool
	}{
		{"CacheStatement", pgx.QueryExecModeCacheStatement, true},
		{"CacheDescribe", pgx.QueryExecModeCacheDescribe, false},
		{"DescribeExec", pgx.QueryExecModeDescribeExec, false},
		{"Exec", pgx.QueryExecModeExec, false},
		{"SimpleProtocol", pgx.QueryExecModeSimpleProtocol, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newOpsAPI(t, opsConfig{
				NewPool: func(t *testing.T, db *testdb.DB) *pgxpool.Pool {
					return modePool(t, db, tc.mode)
				},
			})
			cookies := mintCookies(t, sessionClaims("mode-user", "mode.user@example.com"))

			secret := requireCreated(t, api.createSecret(t, cookies, secretBody()))
			for _, r := range []apiRequest{
				{Method: http.MethodPost, Path: "/api/secrets/" + secret.ID + "/check-in"},
				{Method: http.MethodGet, Path: "/api/secrets"},
				{Method: http.MethodGet, Path: "/api/secrets/" + secret.ID},
				{Method: http.MethodGet, Path: "/readyz"},
			} {
				r.Cookies = cookies
				if resp := api.mustDo(t, r); resp.Status != http.StatusOK {
					t.Fatalf("%s %s: %d %s", r.Method, r.Path, resp.Status, resp.Body)
				}
			}

			// The pool has one connection, so this is the one the requests used. The
			// count itself goes by the simple protocol, so it prepares nothing.
			var prepared int
			err := api.Pool.QueryRow(apiCtx(t), `SELECT count(*) FROM pg_prepared_statements`,
				pgx.QueryExecModeSimpleProtocol).Scan(&prepared)
			if err != nil {
				t.Fatalf("counting prepared statements: %v", err)
			}
			if (prepared > 0) != tc.prepares {
				t.Fatalf("%d named prepared statements on the connection, want any: %v",
					prepared, tc.prepares)
			}
		})
	}
}

// modePool opens a pool of one connection on db whose statements use mode.
func modePool(t *testing.T, db *testdb.DB, mode pgx.QueryExecMode) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.DefaultQueryExecMode = mode
	pool, err := pgxpool.NewWithConfig(apiCtx(t), cfg)
	if err != nil {
		t.Fatalf("pool in mode %s: %v", mode, err)
	}
	t.Cleanup(pool.Close)
	return pool
}
