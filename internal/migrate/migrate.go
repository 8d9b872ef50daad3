// Package migrate applies secretsdb's migrations with goose's Provider API, made safe for
// deploy pipelines.
//
// A Migrator (Open) is what `secretsdb migrate` and `secretsdb serve --migrate` use: goose's
// Postgres session lock against concurrent runners, a SHA-256 of every applied file kept in
// ChecksumTable in the same transaction as the migration, a refusal to run over edited
// files or out-of-order versions unless told to, session settings that make the result
// independent of the role (search_path, TimeZone) and keep DDL from queueing behind long
// transactions (lock_timeout), and failures reported with the file, line and column, the
// SQLSTATE and the lock waited for. Lint and Create serve the authors of migrations.
//
// NewProvider is the bare goose provider with the same version table and lock, without the
// checksum bookkeeping, for tools and tests that build scratch databases.
package migrate

import (
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// VersionTable is goose's version table, schema-qualified so that every role sees the same
// one whatever its search_path.
const VersionTable = "public.goose_db_version"

// NewProvider returns a goose provider over fsys (normally migrations.FS) for the database
// behind db, which must be opened with pgx's stdlib driver. A nil logger discards goose's
// messages.
func NewProvider(db *sql.DB, fsys fs.FS, logger *slog.Logger) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("creating migration lock: %w", err)
	}

	opts := []goose.ProviderOption{
		goose.WithTableName(VersionTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}

	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading migrations: %w", err)
	}
	return p, nil
}

// LatestVersion returns the highest version among the migration files in fsys, 0 when
// there are none.
func LatestVersion(fsys fs.FS) (int64, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, name := range names {
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf(
				"migration file %s: name must start with a version, as 00001_name.sql", name)
		}
		latest = max(latest, v)
	}
	return latest, nil
}
