package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/dbq"
)

// seedBatch is how many users (and as many secrets) one COPY pair writes. Large enough
// that round trips vanish, small enough that a batch's rows are a few MB of memory and
// that several batches run at once.
const seedBatch = 10_000

// seedWorkers bounds the COPY pairs in flight. The triggers that fire for every seeded
// row make seeding CPU-bound on the server, so more workers than its cores gain nothing.
const seedWorkers = 4

// Seeded user i has a 21-digit id, the shape of a Google subject, and secret i. The ids
// are derived from i, so scenarios pick a user, its email and its secret without a lookup
// and without holding a million of each in memory.
func userID(i int) string { return "1" + fmt.Sprintf("%020d", i) }

func userEmail(i int) string { return "user" + strconv.Itoa(i) + "@example.com" }

// secretUUIDPrefix marks seeded secrets' ids; the last 8 bytes hold the user's index.
var secretUUIDPrefix = [8]byte{0x5e, 0xed, 0x5e, 0xc7, 0x00, 0x00, 0x40, 0x00}

func secretID(i int) pgtype.UUID {
	var b [16]byte
	copy(b[:8], secretUUIDPrefix[:])
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	b[8] |= 0x80 // the RFC 4122 variant, so the id reads as an ordinary version 4 UUID
	return pgtype.UUID{Bytes: b, Valid: true}
}

func uuidText(u pgtype.UUID) string {
	b := u.Bytes
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// seed writes users 0..n-1 and one secret each with COPY, in batches that run in
// parallel. Every trigger fires as for any other write, so the audit trail and the
// secrets' next_check_in look as they would after n sign-ups.
func seed(ctx context.Context, pool *pgxpool.Pool, n int, share string, prog *progress) error {
	batches := (n + seedBatch - 1) / seedBatch
	// The first failure stops the other workers after their current batch.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, written atomic.Int64
	errs := make(chan error, seedWorkers)
	var wg sync.WaitGroup

	stop := prog.every(time.Second, func() string {
		return fmt.Sprintf("seeding: %d of %d users and secrets", written.Load(), n)
	})
	for range min(seedWorkers, batches) {
		wg.Go(func() {
			for {
				b := int(next.Add(1)) - 1
				if b >= batches || ctx.Err() != nil {
					return
				}
				lo, hi := b*seedBatch, min((b+1)*seedBatch, n)
				if err := seedRange(ctx, pool, lo, hi, share); err != nil {
					errs <- fmt.Errorf("seeding users %d..%d: %w", lo, hi-1, err)
					cancel()
					return
				}
				written.Add(int64(hi - lo))
			}
		})
	}
	wg.Wait()
	stop()
	close(errs)
	return <-errs
}

// seedRange writes users lo..hi-1 and their secrets in one transaction.
func seedRange(ctx context.Context, pool *pgxpool.Pool, lo, hi int, share string) error {
	users := make([]dbq.BenchSeedUsersParams, 0, hi-lo)
	secrets := make([]dbq.BenchSeedSecretsParams, 0, hi-lo)
	for i := lo; i < hi; i++ {
		id := userID(i)
		users = append(users, dbq.BenchSeedUsersParams{
			ID:    id,
			Email: userEmail(i),
			Name:  pgtype.Text{String: "Seeded User " + strconv.Itoa(i), Valid: true},
		})
		secrets = append(secrets, dbq.BenchSeedSecretsParams{
			ID:             secretID(i),
			UserID:         id,
			Title:          "Letter",
			RecipientName:  "Sam Rivera",
			RecipientEmail: pgtype.Text{String: "sam.rivera@example.org", Valid: true},
			ServerShare:    share,
		})
	}

	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		if _, err := q.BenchSeedUsers(ctx, users); err != nil {
			return err
		}
		_, err := q.BenchSeedSecrets(ctx, secrets)
		return err
	})
}
