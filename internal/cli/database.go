package cli

import (
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
)

// connConfig resolves the database to use: --database-url, else $DATABASE_URL, else the
// libpq environment variables (PGHOST, PGUSER, PGDATABASE, ...) exactly as psql reads them.
func (g *globals) connConfig() (*pgx.ConnConfig, error) {
	dsn := g.databaseURL
	if dsn == "" {
		dsn = os.Getenv("DATABASE_URL")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN, password included, so only the fact is kept.
		return nil, usageError{fmt.Errorf(
			"the database URL cannot be parsed; check its syntax (not shown: it may hold a password)")}
	}
	return cfg, nil
}

// describe names a database for logs and messages without its password.
func describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s",
		cfg.Host, cfg.Port, cfg.Database, cfg.User)
}
