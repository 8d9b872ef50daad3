package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/migrations"
)

// scratchPrefix starts the name of every database the benchmark creates, so a database
// left by --keep or by a killed run is recognisable.
const scratchPrefix = "secretsdb_bench_"

// newScratchName returns a database name no other run will pick.
func newScratchName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead.
	return scratchPrefix + hex.EncodeToString(b)
}

// databaseDDL creates or drops the database name on the server behind admin. These are
// the only statements of the benchmark that sqlc cannot hold: a database name is an
// identifier, and identifiers cannot be bound as parameters, so the text is built here,
// with the name quoted by pgx. The drop forces out sessions a killed run may have left.
func databaseDDL(ctx context.Context, admin *pgx.ConnConfig, create bool, name string) error {
	stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if create {
		stmt = "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	}
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, stmt)
	return err
}

// migrateScratch applies every embedded migration to the database behind cfg.
func migrateScratch(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	p, err := migrate.NewProvider(db, migrations.FS, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrating %s: %w", cfg.Database, err)
	}
	logger.DebugContext(ctx, "scratch database migrated",
		"database", cfg.Database, "migrations", len(res))
	return nil
}
