// Package devpg runs a private PostgreSQL server for `secretsdb dev`, with
// github.com/fergusstrange/embedded-postgres: data kept under the user's cache folder
// between runs, a free port, and either binaries downloaded once and cached or a local
// installation (such as /usr/lib/postgresql/15) used in place, without any download.
package devpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// ErrRoot is returned when the process runs as root: initdb and postgres refuse to.
var ErrRoot = errors.New("PostgreSQL refuses to run as root, so no embedded server can " +
	"start; run as an ordinary user, or point DATABASE_URL (or PGHOST, PGUSER, ...) at a " +
	"running server")

// Options configure a Server.
type Options struct {
	// Dir holds the server's data and runtime files. Default: <user cache dir>/secretsdb/dev.
	Dir string
	// Binaries is a PostgreSQL installation with bin/pg_ctl, used in place. Empty means
	// download the binaries once into the cache.
	Binaries string
	// Reset deletes the data first, so the server starts empty.
	Reset bool
	// Log receives the server's output. Nil discards it.
	Log io.Writer
}

// Server is a running private PostgreSQL.
type Server struct {
	// URL connects to the server's secretsdb database as its superuser.
	URL string
	// DataDir is where the data lives between runs.
	DataDir string

	pg *embeddedpostgres.EmbeddedPostgres
}

const (
	user     = "secretsdb"
	password = "secretsdb"
	database = "secretsdb"
)

// Start starts the server, creating its data directory on first use. ctx bounds the
// checks before the start; the start itself is bounded by a 60 s timeout.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if os.Geteuid() == 0 {
		return nil, ErrRoot
	}
	dir := opts.Dir
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("finding the cache folder: %w (set --data-dir)", err)
		}
		dir = filepath.Join(cache, "secretsdb", "dev")
	}
	dataDir := filepath.Join(dir, "data")
	if opts.Reset {
		if err := os.RemoveAll(dataDir); err != nil {
			return nil, fmt.Errorf("resetting %s: %w", dataDir, err)
		}
	}

	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	cfg := embeddedpostgres.DefaultConfig().
		Username(user).
		Password(password).
		Database(database).
		Port(port).
		// The runtime folder is wiped at every start, so the data lives beside it.
		RuntimePath(filepath.Join(dir, "runtime")).
		DataPath(dataDir).
		CachePath(filepath.Join(dir, "cache")).
		StartTimeout(60 * time.Second).
		Logger(log).
		// TCP on localhost only; no socket in a system folder an ordinary user cannot
		// write to (Debian's binaries default to /var/run/postgresql).
		StartParameters(map[string]string{
			"listen_addresses":        "localhost",
			"unix_socket_directories": "",
		})

	if opts.Binaries != "" {
		version, err := binariesVersion(ctx, opts.Binaries)
		if err != nil {
			return nil, err
		}
		cfg = cfg.BinariesPath(opts.Binaries).Version(version)
	}

	pg := embeddedpostgres.NewDatabase(cfg)
	if err := pg.Start(); err != nil {
		return nil, fmt.Errorf("starting embedded PostgreSQL in %s: %w", dir, err)
	}
	return &Server{
		URL: fmt.Sprintf("postgres://%s:%s@localhost:%d/%s?sslmode=disable",
			user, password, port, database),
		DataDir: dataDir,
		pg:      pg,
	}, nil
}

// Stop shuts the server down cleanly (pg_ctl stop -w), keeping its data.
func (s *Server) Stop() error {
	return s.pg.Stop()
}

var versionPattern = regexp.MustCompile(`\(PostgreSQL\) ([0-9]+)(\.[0-9]+)?`)

// binariesVersion reads the installation's version, which embedded-postgres compares with
// an existing data directory's PG_VERSION before reusing it.
func binariesVersion(ctx context.Context, dir string) (embeddedpostgres.PostgresVersion, error) {
	pgctl := filepath.Join(dir, "bin", "pg_ctl")
	out, err := exec.CommandContext(ctx, pgctl, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("--pg-binaries %s: running %s: %w (want a folder with bin/pg_ctl, "+
			"such as /usr/lib/postgresql/15)", dir, pgctl, err)
	}
	m := versionPattern.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("--pg-binaries %s: cannot read a version from %q", dir, out)
	}
	return embeddedpostgres.PostgresVersion(string(m[1]) + string(m[2]) + ".0"), nil
}

func freePort(ctx context.Context) (uint32, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "localhost:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return uint32(ln.Addr().(*net.TCPAddr).Port), nil
}
