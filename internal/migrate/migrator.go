package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// Defaults for Options.
const (
	// DefaultLockTimeout is how long a runner waits for another runner's migrations.
	DefaultLockTimeout = 5 * time.Minute
	// DefaultDDLLockTimeout is the migration session's lock_timeout.
	DefaultDDLLockTimeout = 5 * time.Second
)

// Options configure a Migrator.
type Options struct {
	// FS holds the migration files: migrations.FS, or os.DirFS of a folder in development.
	FS fs.FS

	// LockTimeout bounds the wait for the migration lock while another runner holds it.
	// The lock is polled every second, so it must be at least a second. Raise it when
	// migrations take longer than the default, DefaultLockTimeout.
	LockTimeout time.Duration

	// DDLLockTimeout is the migration session's lock_timeout: a statement waiting longer
	// than this for a table lock fails, instead of queueing the application's queries
	// behind it. 0 disables it (waits forever). The usual value is DefaultDDLLockTimeout.
	DDLLockTimeout time.Duration

	// StatementTimeout is the migration session's statement_timeout; 0 (the default) sets
	// none. It also bounds CREATE INDEX CONCURRENTLY, so size it for the largest build.
	StatementTimeout time.Duration

	// AllowMissing applies pending migrations whose version is lower than the highest
	// applied one (out-of-order files, typically merged from a branch). Without it Up fails
	// and names them.
	AllowMissing bool

	// AllowChecksumMismatch lets commands that change the schema run although applied
	// files were edited or removed since they were applied.
	AllowChecksumMismatch bool

	// Logger receives state changes (Info), tolerated problems and lock waits (Warn) and
	// lifecycle details (Debug). Nil discards them.
	Logger *slog.Logger
}

// Migrator applies and inspects the migrations of one database. goose's Provider does the
// applying; the Migrator adds the checksum bookkeeping, the out-of-order check, the
// session settings and failure reports that locate the error in its file. A Migrator runs
// one command at a time.
type Migrator struct {
	opts       Options
	logger     *slog.Logger
	sessionCfg *pgx.ConnConfig
	db         *sql.DB
	p          *goose.Provider
	locker     *hookLocker
	tracer     *tracer
	files      map[int64]migrationFile

	// cmd is the schema change in progress, nil between commands.
	cmd *command
}

type command struct {
	report        *Report
	preflightDone bool
}

// Open prepares a Migrator for the database cfg names. It reads the migration files and
// connects once, so a wrong address or credential fails here.
func Open(ctx context.Context, cfg *pgx.ConnConfig, opts Options) (*Migrator, error) {
	if opts.FS == nil {
		return nil, errors.New("migrate: Options.FS must hold the migration files")
	}
	if opts.LockTimeout < time.Second {
		return nil, fmt.Errorf("the migration lock timeout must be at least 1s, got %s",
			opts.LockTimeout)
	}
	if opts.DDLLockTimeout < 0 || opts.StatementTimeout < 0 {
		return nil, fmt.Errorf("timeouts must not be negative, got lock_timeout %s, "+
			"statement_timeout %s", opts.DDLLockTimeout, opts.StatementTimeout)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Migrator{opts: opts, logger: logger, tracer: newTracer()}
	m.sessionCfg = sessionConfig(cfg, opts, m.tracer)

	store, err := newChecksumStore()
	if err != nil {
		return nil, err
	}
	inner, err := lock.NewPostgresSessionLocker(
		lock.WithLockTimeout(1, uint64(math.Ceil(opts.LockTimeout.Seconds()))))
	if err != nil {
		return nil, fmt.Errorf("creating the migration lock: %w", err)
	}
	m.locker = &hookLocker{inner: inner, m: m}

	m.db = stdlib.OpenDB(*m.sessionCfg, stdlib.OptionAfterConnect(m.afterConnect))
	m.p, err = goose.NewProvider(goose.DialectCustom, m.db, opts.FS,
		goose.WithStore(store),
		goose.WithSessionLocker(m.locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithAllowOutofOrder(opts.AllowMissing),
	)
	if err != nil {
		m.db.Close()
		return nil, fmt.Errorf("loading migrations: %w", err)
	}
	m.files, err = loadFiles(opts.FS, m.p.ListSources())
	if err != nil {
		m.db.Close()
		return nil, err
	}
	store.files = m.files

	if err := m.db.PingContext(ctx); err != nil {
		m.db.Close()
		return nil, err
	}
	return m, nil
}

// Close closes the Migrator's connections.
func (m *Migrator) Close() error { return m.p.Close() }

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) (*Report, error) {
	return m.upTo(ctx, math.MaxInt64)
}

// UpTo applies the pending migrations up to and including version, which must be the
// version of a migration file (else *UnknownVersionError, before anything is touched).
func (m *Migrator) UpTo(ctx context.Context, version int64) (*Report, error) {
	if err := m.knownTarget(version, false); err != nil {
		return nil, err
	}
	return m.upTo(ctx, version)
}

func (m *Migrator) upTo(ctx context.Context, version int64) (*Report, error) {
	return m.change(ctx, m.orderCheck(version), func() ([]*goose.MigrationResult, error) {
		return m.p.UpTo(ctx, version)
	})
}

// knownTarget checks that version names a migration file, or is 0 when zeroAllowed.
func (m *Migrator) knownTarget(version int64, zeroAllowed bool) error {
	if _, ok := m.files[version]; ok || (zeroAllowed && version == 0) {
		return nil
	}
	known := make([]int64, 0, len(m.files))
	for v := range m.files {
		known = append(known, v)
	}
	slices.Sort(known)
	return &UnknownVersionError{Version: version, Known: known, ZeroAllowed: zeroAllowed}
}

// UpByOne applies the next pending migration.
func (m *Migrator) UpByOne(ctx context.Context) (*Report, error) {
	return m.change(ctx, m.orderCheck(math.MaxInt64), func() ([]*goose.MigrationResult, error) {
		return single(m.p.UpByOne(ctx))
	})
}

// Down rolls back the most recently applied migration.
func (m *Migrator) Down(ctx context.Context) (*Report, error) {
	return m.change(ctx, nil, func() ([]*goose.MigrationResult, error) {
		return single(m.p.Down(ctx))
	})
}

// DownTo rolls back the applied migrations above version; 0 rolls back all of them. Any
// other version must be a migration file's (else *UnknownVersionError).
func (m *Migrator) DownTo(ctx context.Context, version int64) (*Report, error) {
	if err := m.knownTarget(version, true); err != nil {
		return nil, err
	}
	return m.change(ctx, nil, func() ([]*goose.MigrationResult, error) {
		return m.p.DownTo(ctx, version)
	})
}

// Redo rolls back the most recently applied migration and applies it again. The lock is
// released between the two steps.
func (m *Migrator) Redo(ctx context.Context) (*Report, error) {
	return m.change(ctx, nil, func() ([]*goose.MigrationResult, error) {
		down, err := m.p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		up, err := m.p.ApplyVersion(ctx, down.Source.Version, true)
		if err != nil {
			var pe *goose.PartialError
			if errors.As(err, &pe) {
				pe.Applied = append([]*goose.MigrationResult{down}, pe.Applied...)
			}
			return []*goose.MigrationResult{down}, err
		}
		return []*goose.MigrationResult{down, up}, nil
	})
}

// single adapts goose's one-migration calls, reading "no next version" as nothing to do.
func single(r *goose.MigrationResult, err error) ([]*goose.MigrationResult, error) {
	if errors.Is(err, goose.ErrNoNextVersion) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []*goose.MigrationResult{r}, nil
}

// orderCheck refuses out-of-order files up to target unless AllowMissing is set. It runs
// before goose, whose own check says less.
func (m *Migrator) orderCheck(target int64) func(*dbState) error {
	return func(st *dbState) error {
		if m.opts.AllowMissing {
			return nil
		}
		if pending := st.outOfOrder(m.files, target); len(pending) > 0 {
			return &OutOfOrderError{Pending: pending, MaxApplied: st.maxApplied()}
		}
		return nil
	}
}

// change runs one command that changes the schema: check, then goose, then the report.
// The checksum preflight runs under goose's lock, from hookLocker; when goose had nothing
// to do and never locked, it runs here under the same lock, so a current database still
// gets its checksums recorded and verified.
func (m *Migrator) change(ctx context.Context, check func(*dbState) error,
	run func() ([]*goose.MigrationResult, error)) (*Report, error) {
	st, err := readState(ctx, m.db)
	if err != nil {
		return nil, err
	}
	rep := &Report{VersionBefore: st.maxApplied(), VersionAfter: st.maxApplied()}
	if check != nil {
		if err := check(st); err != nil {
			return rep, err
		}
	}

	m.cmd = &command{report: rep}
	defer func() { m.cmd = nil }()
	watcher := startLockWatcher(ctx, m.sessionCfg, m.tracer.backendPIDs,
		watchInterval(m.opts.DDLLockTimeout), m.logger)
	results, err := run()
	watcher.close()

	var pe *goose.PartialError
	if errors.As(err, &pe) {
		results = pe.Applied
	}
	for _, r := range results {
		m.record(ctx, rep, r)
	}
	if err == nil && !m.cmd.preflightDone {
		err = m.lockedPreflight(ctx)
	}
	err = m.explain(err, watcher)

	// The version is read even when ctx was cancelled, so the report stays truthful.
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	after, verr := readState(vctx, m.db)
	if verr == nil {
		rep.VersionAfter = after.maxApplied()
	}
	if err != nil && ctx.Err() != nil && (errors.Is(err, ctx.Err()) || cancelled(err)) {
		err = m.interrupted(vctx, err, after)
	}
	return rep, err
}

// cancelled reports a statement the server cancelled (SQLSTATE 57014), as it does when a
// cancel request, rather than a closed connection, ends the statement.
func cancelled(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "57014"
}

// interrupted describes a command whose context ended: what became of the migration that
// was running, read from after (nil when it could not be read), and of the lock.
func (m *Migrator) interrupted(ctx context.Context, err error, after *dbState) error {
	ie := &InterruptedError{Err: err}
	var me *MigrationError
	if errors.As(err, &me) {
		ie.Running = &FileRef{Version: me.Version, File: me.File}
		ie.Direction, ie.Transactional = me.Direction, me.Transactional
		if after != nil {
			_, ie.Recorded = after.applied[me.Version]
			ie.Checked = true
		}
	}
	ie.LockReleased = m.lockReleased(ctx)
	return ie
}

// lockReleased waits a few seconds for the command's sessions to let go of the migration
// lock. A session whose client went away keeps it until the server notices, at once when
// it is idle and within client_connection_check_interval when it runs a statement.
func (m *Migrator) lockReleased(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pids := m.tracer.backendPIDs()
	ours := make([]int32, len(pids))
	for i, p := range pids {
		ours[i] = int32(p)
	}
	for {
		var held bool
		err := m.db.QueryRowContext(ctx, lockHeldBySQL, lock.DefaultLockID, ours).Scan(&held)
		if err == nil && !held {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *Migrator) record(ctx context.Context, rep *Report, r *goose.MigrationResult) {
	a := Applied{
		Version:   r.Source.Version,
		File:      r.Source.Path,
		Direction: r.Direction,
		Duration:  r.Duration,
		Empty:     r.Empty,
	}
	rep.Applied = append(rep.Applied, a)
	msg := "migration applied"
	if a.Direction == "down" {
		msg = "migration rolled back"
	}
	m.logger.InfoContext(ctx, msg, "version", a.Version, "file", a.File, "duration", a.Duration)
}

// lockedPreflight takes the migration lock only to run the checksum preflight.
func (m *Migrator) lockedPreflight(ctx context.Context) error {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := m.locker.SessionLock(ctx, conn); err != nil {
		return err
	}
	return m.locker.inner.SessionUnlock(context.WithoutCancel(ctx), conn)
}

// preflight runs under the migration lock before goose applies anything: it creates the
// checksum table, records checksums missing for applied versions, and refuses to go on
// when an applied file was edited or removed.
func (m *Migrator) preflight(ctx context.Context, conn *sql.Conn) error {
	cmd := m.cmd
	if cmd == nil {
		return nil
	}
	if _, err := conn.ExecContext(ctx, createChecksumTableSQL); err != nil {
		return fmt.Errorf("creating %s: %w", ChecksumTable, err)
	}
	st, err := readState(ctx, conn)
	if err != nil {
		return err
	}
	if err := m.backfill(ctx, conn, st, cmd.report); err != nil {
		return err
	}
	if mm := st.mismatches(m.files); len(mm) > 0 {
		if !m.opts.AllowChecksumMismatch {
			return &ChecksumMismatchError{Mismatches: mm, Latest: m.Latest()}
		}
		cmd.report.ChecksumMismatches = mm
		for _, x := range mm {
			m.logger.WarnContext(ctx, "applied migration differs from its file; going on",
				"version", x.Version, "file", x.File, "problem", x.Problem)
		}
	}
	cmd.preflightDone = true
	return nil
}

// backfill records the checksums of applied versions that have none, from their files.
func (m *Migrator) backfill(ctx context.Context, conn *sql.Conn, st *dbState, rep *Report) error {
	var todo []migrationFile
	for _, v := range st.appliedVersions() {
		if _, ok := st.sums[v]; ok {
			continue
		}
		if f, ok := m.files[v]; ok {
			todo = append(todo, f)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	var recorded []FileRef
	err := inTx(ctx, conn, func(q database.DBTxConn) error {
		for _, f := range todo {
			res, err := q.ExecContext(ctx, backfillChecksumSQL, f.Version, f.Name, f.SHA256)
			if err != nil {
				return fmt.Errorf("recording the checksum of %s: %w", f.Name, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				recorded = append(recorded, FileRef{Version: f.Version, File: f.Name})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range todo {
		st.sums[f.Version] = checksumRow{File: f.Name, SHA256: f.SHA256, Backfilled: true}
	}
	rep.ChecksumsRecorded = append(rep.ChecksumsRecorded, recorded...)
	if len(recorded) > 0 {
		m.logger.InfoContext(ctx, "recorded checksums of migrations applied without them",
			"count", len(recorded))
	}
	return nil
}

// explain turns goose's errors into the package's typed errors.
func (m *Migrator) explain(err error, w *lockWatcher) error {
	if err == nil {
		return nil
	}
	var (
		pe  *goose.PartialError
		cm  *ChecksumMismatchError
		oo  *OutOfOrderError
		lt  *LockTimeoutError
		pge *pgconn.PgError
	)
	switch {
	case errors.As(err, &pe):
		return m.migrationError(pe, w)
	case errors.As(err, &cm):
		return cm
	case errors.As(err, &oo):
		return oo
	case errors.As(err, &lt):
		return lt
	case errors.Is(err, goose.ErrVersionNotFound):
		return fmt.Errorf("an applied version has no migration file to roll it back: %w", err)
	case errors.As(err, &pge):
		return fmt.Errorf("migration bookkeeping failed: %w", err)
	}
	return err
}

func (m *Migrator) migrationError(pe *goose.PartialError, w *lockWatcher) *MigrationError {
	src := pe.Failed.Source
	f := m.files[src.Version]
	me := &MigrationError{
		Version:       src.Version,
		File:          src.Path,
		Direction:     pe.Failed.Direction,
		Transactional: !parseLayout(f.Name, string(f.Data)).noTx,
		Err:           pe.Err,
	}
	var pg *pgconn.PgError
	position := 0
	if errors.As(pe.Err, &pg) {
		me.SQLState, me.Message, me.Detail, me.Hint, me.Where =
			pg.Code, pg.Message, pg.Detail, pg.Hint, pg.Where
		position = int(pg.Position)
	}
	if failed, ok := m.tracer.failureOf(pe.Err); ok {
		sec := sectionUp
		if me.Direction == "down" {
			sec = sectionDown
		}
		if loc, ok := locateError(string(f.Data), failed.sql, sec, position, me.Where); ok {
			me.Line, me.Column, me.StatementLine = loc.Line, loc.Column, loc.StatementLine
		}
		me.LockWait = w.waitOf(failed.pid, failed.started)
	}
	me.Advice = m.advice(me)
	return me
}

// advice says what to do about failures whose server message does not.
func (m *Migrator) advice(me *MigrationError) string {
	var s string
	switch me.SQLState {
	case "55P03":
		held := "a lock held by another session"
		if me.LockWait != nil {
			held = "that lock"
		}
		s = fmt.Sprintf("the statement waited longer than lock_timeout (%s) for %s. Retry "+
			"when that session's transaction has ended (see pg_stat_activity), or raise "+
			"--lock-timeout-ddl.", m.opts.DDLLockTimeout, held)
	case "57014":
		if m.opts.StatementTimeout > 0 {
			s = fmt.Sprintf("the statement was cancelled: it ran longer than statement_timeout "+
				"(%s) or the run was interrupted. Raise --statement-timeout if it needs longer.",
				m.opts.StatementTimeout)
		}
	}
	if !me.Transactional {
		tail := "the file runs without a transaction (-- +goose NO TRANSACTION): statements " +
			"before the failing one stay applied and the version is not recorded. Keep such " +
			"files to one idempotent statement and run up again after fixing the cause."
		if s != "" {
			s += " "
		}
		s += tail
	}
	return s
}

// Version returns the highest applied version, 0 when none is.
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	st, err := readState(ctx, m.db)
	if err != nil {
		return 0, err
	}
	return st.maxApplied(), nil
}

// Latest returns the highest version among the files.
func (m *Migrator) Latest() int64 {
	var v int64
	for version := range m.files {
		v = max(v, version)
	}
	return v
}

// Status lists every migration of the files and the database. It takes no lock, so it
// answers while another runner is migrating, showing what that runner has committed.
func (m *Migrator) Status(ctx context.Context) (*Status, error) {
	st, err := readState(ctx, m.db)
	if err != nil {
		return nil, err
	}
	out := &Status{Version: st.maxApplied(), Latest: m.Latest()}
	seen := map[int64]bool{}
	var versions []int64
	for v := range m.files {
		versions, seen[v] = append(versions, v), true
	}
	for v := range st.applied {
		if !seen[v] {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)

	for _, v := range versions {
		f, hasFile := m.files[v]
		at, applied := st.applied[v]
		sum, hasSum := st.sums[v]
		row := FileStatus{Version: v, File: f.Name}
		switch {
		case applied && hasFile:
			row.State, row.AppliedAt = StateApplied, at
			if hasSum && !sum.Backfilled {
				row.AppliedAt = sum.AppliedAt.UTC()
			}
			switch {
			case !hasSum:
				row.Checksum = ChecksumUnrecorded
			case sum.SHA256 == f.SHA256:
				row.Checksum = ChecksumOK
			default:
				row.Checksum = ChecksumEdited
			}
		case applied:
			row.State, row.AppliedAt, row.File = StateFileMissing, at, sum.File
		default:
			row.State, row.OutOfOrder = StatePending, v < out.Version
		}
		out.Migrations = append(out.Migrations, row)
	}
	return out, nil
}

// Verify compares every applied migration with the checksum recorded when it was applied.
// It changes nothing; applied versions without a recorded checksum are listed apart.
func (m *Migrator) Verify(ctx context.Context) (*Verification, error) {
	st, err := readState(ctx, m.db)
	if err != nil {
		return nil, err
	}
	out := &Verification{Checked: len(st.applied), Mismatches: st.mismatches(m.files)}
	for _, v := range st.appliedVersions() {
		f, hasFile := m.files[v]
		if _, hasSum := st.sums[v]; hasFile && !hasSum {
			out.Unrecorded = append(out.Unrecorded, FileRef{Version: v, File: f.Name})
		}
	}
	return out, nil
}

// hookLocker is goose's Postgres session locker with the preflight run right after the lock
// is taken, on the locked connection, so the checks and the migrations they guard happen
// under one lock.
type hookLocker struct {
	inner lock.SessionLocker
	m     *Migrator
}

func (l *hookLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	start := time.Now()
	if err := l.inner.SessionLock(ctx, conn); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// goose's locker gives up with this message once its retries are spent; any other
		// error is a failed query, reported as it is.
		if !strings.Contains(err.Error(), "failed to acquire lock") {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		return &LockTimeoutError{
			Waited: time.Since(start),
			Holder: lockHolder(context.WithoutCancel(ctx), conn),
			Err:    err,
		}
	}
	l.m.logger.DebugContext(ctx, "migration lock acquired", "waited", time.Since(start))
	if err := l.m.preflight(ctx, conn); err != nil {
		if uerr := l.inner.SessionUnlock(context.WithoutCancel(ctx), conn); uerr != nil {
			return errors.Join(err, uerr)
		}
		return err
	}
	return nil
}

func (l *hookLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	return l.inner.SessionUnlock(ctx, conn)
}

// lockHolder returns the session holding goose's lock, nil when none does or on error.
func lockHolder(ctx context.Context, conn *sql.Conn) *Blocker {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var b Blocker
	var mode string
	var age float64
	err := conn.QueryRowContext(ctx, lockHolderSQL, lock.DefaultLockID).
		Scan(&b.PID, &mode, &b.User, &b.ApplicationName, &b.State, &age)
	if err != nil {
		return nil
	}
	b.HeldModes = []string{mode}
	b.TransactionAge = time.Duration(age * float64(time.Second))
	return &b
}
