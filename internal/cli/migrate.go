package cli

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/spf13/cobra"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/migrations"
)

func newMigrateCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, inspect or roll back the schema migrations embedded in this binary",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "up",
			Short: "Apply every pending migration",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.withProvider(cmd.Context(), func(p *goose.Provider) error {
					res, err := p.Up(cmd.Context())
					printResults(g, res)
					if err == nil && len(res) == 0 {
						fmt.Fprintln(g.stdout, "no migrations to apply: the database is current")
					}
					return err
				})
			},
		},
		&cobra.Command{
			Use:   "down",
			Short: "Roll back the most recent migration",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.withProvider(cmd.Context(), func(p *goose.Provider) error {
					res, err := p.Down(cmd.Context())
					if res != nil {
						printResults(g, []*goose.MigrationResult{res})
					}
					return err
				})
			},
		},
		&cobra.Command{
			Use:   "down-to VERSION",
			Short: "Roll back migrations down to VERSION (0 removes everything)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				v, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || v < 0 {
					return usageError{fmt.Errorf("VERSION must be a non-negative integer, got %q", args[0])}
				}
				return g.withProvider(cmd.Context(), func(p *goose.Provider) error {
					res, err := p.DownTo(cmd.Context(), v)
					printResults(g, res)
					return err
				})
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "List every migration and whether it is applied",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.withProvider(cmd.Context(), func(p *goose.Provider) error {
					st, err := p.Status(cmd.Context())
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
					for _, s := range st {
						applied := "-"
						if s.State == goose.StateApplied {
							applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
					}
					return tw.Flush()
				})
			},
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the database's current migration version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.withProvider(cmd.Context(), func(p *goose.Provider) error {
					v, err := p.GetDBVersion(cmd.Context())
					if err != nil {
						return err
					}
					fmt.Fprintln(g.stdout, v)
					return nil
				})
			},
		},
	)
	return cmd
}

// withProvider opens the database and a goose provider over the embedded migrations,
// runs fn, and closes both.
func (g *globals) withProvider(ctx context.Context, fn func(*goose.Provider) error) error {
	cfg, err := g.connConfig()
	if err != nil {
		return err
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	if err := pingDB(ctx, db); err != nil {
		return fmt.Errorf("connecting to %s: %w", describe(cfg), err)
	}
	p, err := migrate.NewProvider(db, migrations.FS, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	return fn(p)
}

func pingDB(ctx context.Context, db *sql.DB) error {
	return db.PingContext(ctx)
}

func printResults(g *globals, res []*goose.MigrationResult) {
	for _, r := range res {
		if r == nil || r.Source == nil {
			continue
		}
		fmt.Fprintf(g.stdout, "%s %s (%s)\n", r.Direction, r.Source.Path, r.Duration.Round(1e6))
	}
}
