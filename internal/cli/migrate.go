package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/secretsdb/secretsdb/internal/migrate"
	"github.com/secretsdb/secretsdb/migrations"
)

// migrateOptions are the flags of `secretsdb migrate` and its subcommands.
type migrateOptions struct {
	dir string
	// dirSet is true when --dir was given, so that an empty value is an error rather than
	// a silent fall-back to the embedded migrations.
	dirSet           bool
	json             bool
	lockTimeout      time.Duration
	ddlLockTimeout   time.Duration
	statementTimeout time.Duration
	allowMissing     bool
	allowMismatch    bool
}

const migrateLong = `Apply, inspect or roll back the schema migrations embedded in this binary.

Every command prints human text on stdout, or with --json one JSON document, also when it
fails. Logs go to stderr. Exit codes (docs/deploy.md has the recovery for each):
  0  done, or nothing to do
  1  failure: a migration failed, out-of-order files, the lock or database unreachable,
     interrupted (SIGTERM, Ctrl-C), lint problems
  2  usage error: unknown command or flag, bad argument, a VERSION no file carries
  3  an applied migration's file was edited or removed, or a newer release migrated the
     database past this binary's files (verify, and every command that would change the
     schema)

Runners take goose's PostgreSQL advisory lock, so concurrent deploys apply each version
once. Migration sessions pin search_path to public and TimeZone to UTC, and set
lock_timeout (--lock-timeout-ddl) so DDL never queues behind a long transaction.`

func newMigrateCommand(g *globals) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, inspect or roll back the schema migrations embedded in this binary",
		Long:  migrateLong,
		// Without this, cobra prints the help and exits 0 for a mistyped subcommand, which
		// a pipeline would take for success.
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			err := usageError{errors.New("migrate needs a command; see secretsdb migrate --help")}
			if len(args) > 0 {
				err = usageError{fmt.Errorf(
					"unknown migrate command %q; see secretsdb migrate --help", args[0])}
			}
			return o.finish(g, newDoc("migrate"), err)
		},
		// The root's hook is replaced, not chained, by cobra; it is called here so that its
		// usage errors (--log-level, --log-format) get a JSON document too.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			o.dirSet = cmd.Flags().Changed("dir")
			if err := cmd.Root().PersistentPreRunE(cmd, args); err != nil {
				return o.finish(g, newDoc(cmd.Name()), err)
			}
			return nil
		},
	}
	// pflag parses left to right and stops at the first bad flag, so a --json after it is
	// looked for in the raw command line.
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		o.json = o.json || slices.Contains(g.args, "--json") ||
			slices.Contains(g.args, "--json=true")
		return o.finish(g, newDoc(c.Name()), usageError{err})
	})
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.dir, "dir", "",
		"read migrations from this folder, not the embedded ones (create: default "+
			"./migrations, which must exist)")
	pf.BoolVar(&o.json, "json", false, "print one JSON document on stdout instead of text")
	pf.DurationVar(&o.lockTimeout, "lock-timeout", migrate.DefaultLockTimeout,
		"longest wait for the migration lock while another runner holds it")
	pf.DurationVar(&o.ddlLockTimeout, "lock-timeout-ddl", migrate.DefaultDDLLockTimeout,
		"lock_timeout of the migration session: DDL waiting longer for a lock fails (0: wait)")
	pf.DurationVar(&o.statementTimeout, "statement-timeout", 0,
		"statement_timeout of the migration session (0: none)")

	cmd.AddCommand(
		o.changeCommand(g, "up", "", "Apply every pending migration", true,
			func(ctx context.Context, m *migrate.Migrator, _ int64) (*migrate.Report, error) {
				return m.Up(ctx)
			}),
		o.changeCommand(g, "up-by-one", "", "Apply the next pending migration", true,
			func(ctx context.Context, m *migrate.Migrator, _ int64) (*migrate.Report, error) {
				return m.UpByOne(ctx)
			}),
		o.changeCommand(g, "up-to", "VERSION",
			"Apply the pending migrations up to and including VERSION", true,
			func(ctx context.Context, m *migrate.Migrator, v int64) (*migrate.Report, error) {
				return m.UpTo(ctx, v)
			}),
		o.changeCommand(g, "down", "", "Roll back the most recently applied migration", false,
			func(ctx context.Context, m *migrate.Migrator, _ int64) (*migrate.Report, error) {
				return m.Down(ctx)
			}),
		o.changeCommand(g, "down-to", "VERSION",
			"Roll back the migrations above VERSION (0 rolls back all of them)", false,
			func(ctx context.Context, m *migrate.Migrator, v int64) (*migrate.Report, error) {
				return m.DownTo(ctx, v)
			}),
		o.changeCommand(g, "redo", "",
			"Roll back the most recently applied migration and apply it again", false,
			func(ctx context.Context, m *migrate.Migrator, _ int64) (*migrate.Report, error) {
				return m.Redo(ctx)
			}),
		o.statusCommand(g),
		o.versionCommand(g),
		o.verifyCommand(g),
		o.createCommand(g),
		o.lintCommand(g),
	)
	return cmd
}

// changeCommand builds a command that changes the schema. arg names its VERSION argument,
// "" for none; ups take --allow-missing.
func (o *migrateOptions) changeCommand(g *globals, name, arg, short string, up bool,
	op func(context.Context, *migrate.Migrator, int64) (*migrate.Report, error)) *cobra.Command {
	use := name
	if arg != "" {
		use += " " + arg
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		// Arguments are checked in RunE, so a bad one still gets a JSON document.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := newChangeDoc(name)
			version, err := versionArg(arg, args, name == "down-to")
			if err != nil {
				return o.finish(g, doc, err)
			}
			m, cfgDesc, err := o.open(cmd.Context(), g)
			doc.Database = cfgDesc
			if err != nil {
				return o.finish(g, doc, err)
			}
			defer m.Close()

			rep, err := op(cmd.Context(), m, version)
			var uv *migrate.UnknownVersionError
			if errors.As(err, &uv) {
				err = usageError{err}
			}
			doc.fill(rep, err)
			if !o.json {
				printChange(g.stdout, name, rep, err)
			}
			return o.finish(g, doc, err)
		},
	}
	f := cmd.Flags()
	if up {
		f.BoolVar(&o.allowMissing, "allow-missing", false,
			"apply pending migrations whose version is below the highest applied one")
	}
	f.BoolVar(&o.allowMismatch, "allow-checksum-mismatch", false,
		"go on although applied migrations' files were edited or removed")
	return cmd
}

// versionArg parses the VERSION argument when the command takes one.
func versionArg(arg string, args []string, zeroOK bool) (int64, error) {
	if arg == "" {
		if len(args) > 0 {
			return 0, usageError{fmt.Errorf("this command takes no arguments, got %q", args)}
		}
		return 0, nil
	}
	if len(args) != 1 {
		return 0, usageError{fmt.Errorf("%s is required, as one argument, got %d arguments",
			arg, len(args))}
	}
	v, err := strconv.ParseInt(args[0], 10, 64)
	lowest := int64(1)
	if zeroOK {
		lowest = 0
	}
	if err != nil || v < lowest {
		return 0, usageError{fmt.Errorf("%s must be an integer of at least %d, got %q",
			arg, lowest, args[0])}
	}
	return v, nil
}

func (o *migrateOptions) statusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List every migration: applied or pending, out of order, checksum state",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := newStatusDoc()
			return o.read(cmd.Context(), g, args, doc, &doc.Database,
				func(m *migrate.Migrator, desc string) error {
					st, err := m.Status(cmd.Context())
					if err != nil {
						return err
					}
					doc.fill(st)
					if !o.json {
						printStatus(g.stdout, desc, st)
					}
					return nil
				})
		},
	}
}

func (o *migrateOptions) versionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the database's migration version (the highest applied)",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := newVersionDoc()
			return o.read(cmd.Context(), g, args, doc, &doc.Database,
				func(m *migrate.Migrator, _ string) error {
					st, err := m.Status(cmd.Context())
					if err != nil {
						return err
					}
					doc.Version, doc.Latest = st.Version, st.Latest
					for _, s := range st.Migrations {
						if s.State == migrate.StatePending {
							doc.Pending++
						}
					}
					if !o.json {
						fmt.Fprintln(g.stdout, st.Version)
					}
					return nil
				})
		},
	}
}

func (o *migrateOptions) verifyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Compare applied migrations with their files; exit 3 naming each that differs",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			doc := newVerifyDoc()
			return o.read(cmd.Context(), g, args, doc, &doc.Database,
				func(m *migrate.Migrator, _ string) error {
					v, err := m.Verify(cmd.Context())
					if err != nil {
						return err
					}
					doc.fill(v)
					if !o.json {
						printVerify(g.stdout, v, m.Latest())
					}
					if len(v.Mismatches) > 0 {
						return &migrate.ChecksumMismatchError{
							Mismatches: v.Mismatches, Latest: m.Latest(),
						}
					}
					return nil
				})
		},
	}
}

// read runs fn for a command that takes no arguments and only reads the database, with
// the connection's description stored in *database for the document, and reports
// through doc whatever happens.
func (o *migrateOptions) read(ctx context.Context, g *globals, args []string, doc document,
	database *string, fn func(m *migrate.Migrator, desc string) error) error {
	if _, err := versionArg("", args, false); err != nil {
		return o.finish(g, doc, err)
	}
	m, desc, err := o.open(ctx, g)
	*database = desc
	if err != nil {
		return o.finish(g, doc, err)
	}
	defer m.Close()
	return o.finish(g, doc, fn(m, desc))
}

func (o *migrateOptions) createCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Write the next numbered migration file, with its Up and Down skeleton, into --dir",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			doc := newCreateDoc()
			if len(args) != 1 {
				return o.finish(g, doc, usageError{fmt.Errorf(
					"NAME is required, as one argument, got %d arguments", len(args))})
			}
			dir, err := o.createDir()
			if err != nil {
				return o.finish(g, doc, err)
			}
			path, version, err := migrate.Create(dir, args[0])
			if errors.Is(err, migrate.ErrInvalidName) {
				err = usageError{err}
			}
			if err == nil {
				doc.File, doc.Version = path, version
				if !o.json {
					fmt.Fprintf(g.stdout, "created %s\n", path)
				}
			}
			return o.finish(g, doc, err)
		},
	}
}

func (o *migrateOptions) lintCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lint",
		Short: "Check migration files for splitting, search_path and locking mistakes",
		Long: `Check migration files (the embedded ones, or --dir) for:
  - dollar quotes outside -- +goose StatementBegin/StatementEnd (goose would split them);
  - functions and procedures without SET search_path;
  - CREATE INDEX without CONCURRENTLY on a table the file did not create;
  - CONCURRENTLY in a file not marked -- +goose NO TRANSACTION;
  - goose annotations goose would reject.
Exits 1 when it finds a problem.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			doc := newLintDoc()
			if _, err := versionArg("", args, false); err != nil {
				return o.finish(g, doc, err)
			}
			fsys, err := o.migrationsFS()
			if err != nil {
				return o.finish(g, doc, err)
			}
			problems, files, err := migrate.Lint(fsys)
			if err == nil {
				doc.Files = files
				doc.Problems = append(doc.Problems, problems...)
				if !o.json {
					printLint(g.stdout, files, problems)
				}
				if len(problems) > 0 {
					err = fmt.Errorf("%s in the migration files",
						plural(len(problems), "lint problem"))
				}
			}
			return o.finish(g, doc, err)
		},
	}
}

// migrationsFS returns the embedded migrations, or the --dir folder.
func (o *migrateOptions) migrationsFS() (fs.FS, error) {
	if !o.dirSet {
		return migrations.FS, nil
	}
	if err := o.checkDir(); err != nil {
		return nil, err
	}
	return os.DirFS(o.dir), nil
}

// checkDir refuses a --dir that is empty or not a folder.
func (o *migrateOptions) checkDir() error {
	if o.dir == "" {
		return usageError{errors.New("--dir must name a folder of migrations, got an empty value")}
	}
	info, err := os.Stat(o.dir)
	if err != nil || !info.IsDir() {
		return usageError{fmt.Errorf("--dir must name a folder of migrations, got %q", o.dir)}
	}
	return nil
}

// createDir returns the folder create writes into: --dir, else ./migrations. It is not
// created when missing: a missing ./migrations almost always means create ran in the wrong
// folder, and numbering would restart at 1 there.
func (o *migrateOptions) createDir() (string, error) {
	if o.dirSet {
		return o.dir, o.checkDir()
	}
	const dir = "migrations"
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		cwd, _ := os.Getwd()
		return "", usageError{fmt.Errorf("there is no migrations folder in %s: run create "+
			"where migrations/ is, or name the folder with --dir", cwd)}
	}
	return dir, nil
}

// open connects a Migrator and returns it with the database's password-free description.
func (o *migrateOptions) open(ctx context.Context, g *globals) (*migrate.Migrator, string, error) {
	fsys, err := o.migrationsFS()
	if err != nil {
		return nil, "", err
	}
	if o.lockTimeout < time.Second {
		return nil, "", usageError{fmt.Errorf("--lock-timeout must be at least 1s, got %s",
			o.lockTimeout)}
	}
	if o.ddlLockTimeout < 0 || o.statementTimeout < 0 {
		return nil, "", usageError{errors.New(
			"--lock-timeout-ddl and --statement-timeout must not be negative")}
	}
	cfg, err := g.connConfig()
	if err != nil {
		return nil, "", err
	}
	desc := describe(cfg)
	m, err := migrate.Open(ctx, cfg, migrate.Options{
		FS:                    fsys,
		LockTimeout:           o.lockTimeout,
		DDLLockTimeout:        o.ddlLockTimeout,
		StatementTimeout:      o.statementTimeout,
		AllowMissing:          o.allowMissing,
		AllowChecksumMismatch: o.allowMismatch,
		Logger:                g.logger.With("component", "migrate"),
	})
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return nil, desc, fmt.Errorf("connecting to %s: %w", desc, err)
	}
	if err != nil {
		return nil, desc, err
	}
	return m, desc, nil
}

// finish writes the JSON document when asked for one and returns err with its exit code.
func (o *migrateOptions) finish(g *globals, doc document, err error) error {
	code := exitCodeOf(err)
	if o.json {
		doc.env().set(code, err)
		if werr := writeJSON(g.stdout, doc); werr != nil && err == nil {
			return werr
		}
	}
	var ue usageError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	return exitError{code: code, err: err}
}

// exitCodeOf maps an error to the documented exit codes.
func exitCodeOf(err error) int {
	var (
		ue usageError
		cm *migrate.ChecksumMismatchError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &cm):
		return ExitChecksumMismatch
	}
	return ExitFailure
}
