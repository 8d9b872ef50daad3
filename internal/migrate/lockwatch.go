package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// lockWatcher polls pg_locks, on a connection of its own, for locks the migration
// connections are waiting for. PostgreSQL's lock_timeout error says only "canceling
// statement due to lock timeout"; the watcher's last sighting names the table, the mode
// and the sessions in the way.
type lockWatcher struct {
	conn     *pgx.Conn
	pids     func() []uint32
	interval time.Duration
	logger   *slog.Logger

	mu    sync.Mutex
	waits map[uint32]sighting
	// firstSeen and warned make a wait that lasts a second logged once, and a brief one not.
	firstSeen map[string]time.Time
	warned    map[string]bool

	stop func()
	done chan struct{}
}

type sighting struct {
	wait *LockWait
	at   time.Time // when the query that saw it was sent
}

// watchInterval polls a few times within the DDL lock timeout, so a wait that ends in a
// timeout is seen before it ends.
func watchInterval(ddlLockTimeout time.Duration) time.Duration {
	const slowest, fastest = 250 * time.Millisecond, 20 * time.Millisecond
	if ddlLockTimeout <= 0 {
		return slowest
	}
	return min(max(ddlLockTimeout/5, fastest), slowest)
}

// startLockWatcher connects and starts polling. It returns nil, after logging why, when it
// cannot connect: the migration runs the same without it, only with a vaguer message.
func startLockWatcher(ctx context.Context, cfg *pgx.ConnConfig, pids func() []uint32,
	interval time.Duration, logger *slog.Logger) *lockWatcher {
	c := cfg.Copy()
	c.Tracer = nil
	c.RuntimeParams["application_name"] = "secretsdb migrate lock watch"
	c.RuntimeParams["lock_timeout"] = "0"
	conn, err := pgx.ConnectConfig(ctx, c)
	if err != nil {
		logger.WarnContext(ctx, "lock watcher not started", "error", err)
		return nil
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w := &lockWatcher{
		conn: conn, pids: pids, interval: interval, logger: logger,
		waits: map[uint32]sighting{}, firstSeen: map[string]time.Time{}, warned: map[string]bool{},
		stop: stop, done: make(chan struct{}),
	}
	go w.run(wctx)
	return w
}

func (w *lockWatcher) run(ctx context.Context) {
	defer close(w.done)
	defer w.conn.Close(context.Background())
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *lockWatcher) poll(ctx context.Context) {
	pids := w.pids()
	if len(pids) == 0 {
		return
	}
	sent := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	args := make([]int32, len(pids))
	for i, p := range pids {
		args[i] = int32(p)
	}
	rows, err := w.conn.Query(qctx, lockWaitsSQL, args)
	if err != nil {
		if ctx.Err() == nil {
			w.logger.DebugContext(ctx, "lock watcher query failed", "error", err)
		}
		return
	}
	defer rows.Close()

	seen := map[uint32]*LockWait{}
	for rows.Next() {
		var pid int32
		var lw LockWait
		var b Blocker
		var ageSeconds float64
		if err := rows.Scan(&pid, &lw.LockType, &lw.Mode, &lw.Relation,
			&b.PID, &b.User, &b.ApplicationName, &b.State, &ageSeconds,
			&b.HeldModes, &b.QueuedMode); err != nil {
			return
		}
		cur, ok := seen[uint32(pid)]
		if !ok {
			cur = &LockWait{LockType: lw.LockType, Mode: lw.Mode, Relation: lw.Relation}
			seen[uint32(pid)] = cur
		}
		if b.PID != 0 {
			b.TransactionAge = time.Duration(ageSeconds * float64(time.Second))
			cur.Blockers = append(cur.Blockers, b)
		}
	}
	if rows.Err() != nil {
		return
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, lw := range seen {
		w.waits[pid] = sighting{wait: lw, at: sent}
		key := fmt.Sprintf("%d %s %s %s", pid, lw.LockType, lw.Mode, lw.Relation)
		first, ok := w.firstSeen[key]
		if !ok {
			w.firstSeen[key] = sent
			continue
		}
		if !w.warned[key] && sent.Sub(first) >= time.Second {
			w.warned[key] = true
			w.logger.WarnContext(ctx, "migration waiting for a lock", "lock", lw.String())
		}
	}
}

// waitOf returns what backend pid was last seen waiting for, if that sighting was made
// after since (the start of the statement in question).
func (w *lockWatcher) waitOf(pid uint32, since time.Time) *LockWait {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.waits[pid]
	if !ok || s.at.Before(since) {
		return nil
	}
	return s.wait
}

// close stops the polling and waits for it to end.
func (w *lockWatcher) close() {
	if w == nil {
		return
	}
	w.stop()
	<-w.done
}
