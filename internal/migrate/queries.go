package migrate

// The migrator's own statements. They live here rather than in queries/ because they run
// before and around the migrations: the checksum table is the migrator's bookkeeping, like
// goose's version table, and exists before any migration file has run, so sqlc (which
// reads the schema from migrations/) cannot type them. Every name is schema-qualified and
// every built-in comes from pg_catalog, so the role's search_path cannot redirect them.

// ChecksumTable records the SHA-256 of every applied migration file. A row is written in
// the same transaction as goose's version row and deleted with it on rollback.
const ChecksumTable = "public.secretsdb_migration_checksums"

const (
	// backfilled marks rows recorded after the fact, from the file as it was then, for
	// versions applied before checksums were kept; applied_at is then the recording time.
	createChecksumTableSQL = `CREATE TABLE IF NOT EXISTS public.secretsdb_migration_checksums (
    version bigint NOT NULL,
    file_name text NOT NULL,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    backfilled boolean NOT NULL DEFAULT false,
    CONSTRAINT secretsdb_migration_checksums_pkey PRIMARY KEY (version),
    CONSTRAINT secretsdb_migration_checksums_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$')
)`

	tablesExistSQL = `SELECT
    pg_catalog.to_regclass('public.goose_db_version') IS NOT NULL,
    pg_catalog.to_regclass('public.secretsdb_migration_checksums') IS NOT NULL`

	// goose's tstamp is a timestamp without time zone written by now(); migration sessions
	// run with TimeZone UTC, so it is read as UTC.
	appliedVersionsSQL = `SELECT version_id, max(tstamp)
FROM public.goose_db_version
WHERE version_id > 0
GROUP BY version_id
ORDER BY version_id`

	checksumsSQL = `SELECT version, file_name, sha256, applied_at, backfilled
FROM public.secretsdb_migration_checksums
ORDER BY version`

	insertChecksumSQL = `INSERT INTO public.secretsdb_migration_checksums
    (version, file_name, sha256)
VALUES ($1, $2, $3)
ON CONFLICT (version) DO UPDATE
SET file_name = excluded.file_name,
    sha256 = excluded.sha256,
    applied_at = pg_catalog.now(),
    backfilled = false`

	backfillChecksumSQL = `INSERT INTO public.secretsdb_migration_checksums
    (version, file_name, sha256, backfilled)
VALUES ($1, $2, $3, true)
ON CONFLICT (version) DO NOTHING`

	deleteChecksumSQL = `DELETE FROM public.secretsdb_migration_checksums WHERE version = $1`

	// lockWaitsSQL lists the locks the given backends are waiting for and who is in the
	// way, with the modes each blocker holds, or is itself queued for, on the same object.
	// Blockers' query texts are left out: they may hold data.
	lockWaitsSQL = `SELECT
    l.pid,
    l.locktype,
    l.mode,
    coalesce(pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), ''),
    coalesce(b.pid, 0),
    coalesce(b.usename::text, ''),
    coalesce(b.application_name, ''),
    coalesce(b.state, ''),
    coalesce(extract(epoch FROM pg_catalog.now() - b.xact_start), 0)::float8,
    coalesce(held.modes, '{}'),
    coalesce(queued.mode, '')
FROM pg_catalog.pg_locks l
LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(l.pid)) AS bp(pid) ON true
LEFT JOIN pg_catalog.pg_stat_activity b ON b.pid = bp.pid
LEFT JOIN LATERAL (
    SELECT pg_catalog.array_agg(DISTINCT h.mode ORDER BY h.mode) AS modes
    FROM pg_catalog.pg_locks h
    WHERE h.pid = bp.pid AND h.granted AND ` + sameLockedObject + `
) AS held ON true
LEFT JOIN LATERAL (
    SELECT h.mode
    FROM pg_catalog.pg_locks h
    WHERE h.pid = bp.pid AND NOT h.granted AND ` + sameLockedObject + `
    LIMIT 1
) AS queued ON true
WHERE l.pid = ANY($1) AND NOT l.granted`

	// sameLockedObject matches a pg_locks row h to the lock l waits for: every column that
	// identifies a lockable object, NULLs included.
	sameLockedObject = `h.locktype = l.locktype
        AND h.database IS NOT DISTINCT FROM l.database
        AND h.relation IS NOT DISTINCT FROM l.relation
        AND h.page IS NOT DISTINCT FROM l.page
        AND h.tuple IS NOT DISTINCT FROM l.tuple
        AND h.virtualxid IS NOT DISTINCT FROM l.virtualxid
        AND h.transactionid IS NOT DISTINCT FROM l.transactionid
        AND h.classid IS NOT DISTINCT FROM l.classid
        AND h.objid IS NOT DISTINCT FROM l.objid
        AND h.objsubid IS NOT DISTINCT FROM l.objsubid`

	// lockHeldBySQL says whether one of the given backends holds goose's advisory lock.
	lockHeldBySQL = `SELECT EXISTS (
    SELECT 1
    FROM pg_catalog.pg_locks l
    WHERE l.locktype = 'advisory'
        AND l.granted
        AND l.objsubid = 1
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
        AND l.pid = ANY($2)
)`
)

// lockHolderSQL finds the session holding goose's advisory lock in this database. A bigint
// key shows in pg_locks split into classid (high half) and objid (low half), objsubid 1.
const lockHolderSQL = `SELECT
    a.pid,
    l.mode,
    coalesce(a.usename::text, ''),
    coalesce(a.application_name, ''),
    coalesce(a.state, ''),
    coalesce(extract(epoch FROM pg_catalog.now() - a.xact_start), 0)::float8
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
    AND l.granted
    AND l.objsubid = 1
    AND l.database = (
        SELECT d.oid FROM pg_catalog.pg_database d
        WHERE d.datname = pg_catalog.current_database()
    )
    AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
LIMIT 1`
