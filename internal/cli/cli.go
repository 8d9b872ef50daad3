// Package cli implements the secretsdb command line. Commands write results to the stdout
// they are given and logs to stderr, so tests can drive them without a process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	// ExitChecksumMismatch: an applied migration's file was edited or removed since it was
	// applied (migrate verify, and the migrate commands that refuse to run because of it).
	ExitChecksumMismatch = 3
)

// usageError marks an error in the command line itself, reported with exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries the exit code of an error that is not a plain failure.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
func (e exitError) ExitCode() int { return e.code }

// globals are the flags every command shares.
type globals struct {
	databaseURL string
	logFormat   string
	logLevel    string

	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger

	// args is the raw command line, for the rare decision flag parsing cannot make: a
	// --json after the flag that stopped it.
	args []string
}

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr, args: args}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)

	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "secretsdb: %v\n", err)

	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return ExitUsage
	}
	var ce interface{ ExitCode() int }
	if errors.As(err, &ce) {
		return ce.ExitCode()
	}
	return ExitFailure
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "secretsdb",
		Short:         "Provision users and store secrets atomically in PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(g.stderr, g.logFormat, g.logLevel)
			if err != nil {
				return usageError{err}
			}
			g.logger = logger
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.Version = Version()
	root.SetVersionTemplate(versionTemplate)

	pf := root.PersistentFlags()
	pf.StringVar(&g.databaseURL, "database-url", "",
		"PostgreSQL URL or DSN (default $DATABASE_URL, else the libpq PG* variables)")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")

	root.AddCommand(
		newMigrateCommand(g),
		newServeCommand(g),
		newDevCommand(g),
		newSessionCommand(g),
		newBenchCommand(g),
		newVersionCommand(g),
	)
	return root
}

// isCobraUsageError reports errors cobra raises for unknown commands and wrong argument
// counts, which it returns as plain errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "accepts ", "requires ", "unknown flag"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
	}
}
