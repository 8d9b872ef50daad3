package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// connConfig resolves the database to use: --database-url, else $DATABASE_URL, else the
// libpq environment variables (PGHOST, PGUSER, PGDATABASE, ...) exactly as psql reads them.
func (g *globals) connConfig() (*pgx.ConnConfig, error) {
	dsn, source := g.databaseURL, "--database-url"
	if dsn == "" {
		dsn, source = os.Getenv("DATABASE_URL"), "$DATABASE_URL"
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err == nil {
		return cfg, nil
	}

	// pgx's parse errors quote the DSN, password included, so only the fact is kept, with
	// the names (never the values) of the variables that took part.
	vars := pgVariables()
	if dsn == "" {
		set := strings.Join(vars, ", ")
		if set == "" {
			set = "none is set"
		}
		return nil, usageError{fmt.Errorf("the connection settings cannot be parsed (from "+
			"PG* environment variables: %s); check their values (not shown: they may hold "+
			"a password)", set)}
	}
	msg := fmt.Sprintf("the database URL (from %s) cannot be parsed; check its syntax "+
		"(not shown: it may hold a password)", source)
	if len(vars) > 0 {
		msg += fmt.Sprintf(", and the PG* environment variables that fill in what it "+
			"leaves out: %s", strings.Join(vars, ", "))
	}
	return nil, usageError{errors.New(msg)}
}

// pgVariables returns the names of the PG* environment variables that are set, sorted.
func pgVariables() []string {
	var names []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "PG") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// describe names a database for logs and messages without its password.
func describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s",
		cfg.Host, cfg.Port, cfg.Database, cfg.User)
}
