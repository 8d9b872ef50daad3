-- The statements of `secretsdb bench` (internal/bench), besides the SQL API it measures:
-- what an application would send instead of calling the routines, and the seeding of a
-- scratch database. They write tables directly, so they run as the migrating role on the
-- benchmark's own database, never as secretsdb_app.

-- name: BenchSeedUsers :copyfrom
INSERT INTO users (id, email, name) VALUES (@id, @email, @name);

-- name: BenchSeedSecrets :copyfrom
INSERT INTO secrets (
    id,
    user_id,
    title,
    recipient_name,
    recipient_email,
    server_share
)
VALUES (
    @id,
    @user_id,
    @title,
    @recipient_name,
    @recipient_email,
    @server_share
);

-- name: BenchInsertSecret :one
-- The floor for storing a secret: one INSERT, the foreign key to users checked by the
-- server, the same columns and the same results as create_secret.
INSERT INTO secrets (
    user_id,
    title,
    recipient_name,
    recipient_email,
    contact_method,
    check_in_days,
    server_share,
    sss_shares_total,
    sss_threshold
)
VALUES (
    sqlc.arg(user_id)::text,
    sqlc.arg(title)::text,
    sqlc.arg(recipient_name)::text,
    sqlc.arg(recipient_email)::text,
    sqlc.arg(contact_method)::contact_method,
    sqlc.arg(check_in_days)::integer,
    sqlc.arg(server_share)::text,
    sqlc.arg(sss_shares_total)::integer,
    sqlc.arg(sss_threshold)::integer
)
RETURNING id, next_check_in;

-- name: BenchUserByID :one
-- The application-level path, first round trip: is the session's user stored?
SELECT id, email, name, image, email_verified
FROM users
WHERE id = sqlc.arg(id)::text;

-- name: BenchUserByEmail :one
-- Second round trip, for an id not found: does the email belong to someone?
SELECT id, email, name, image, email_verified
FROM users
WHERE email = sqlc.arg(email)::text;

-- name: BenchInsertUser :one
-- Third round trip, for an email not found either.
INSERT INTO users (id, email, name, image)
VALUES (
    sqlc.arg(id)::text,
    sqlc.arg(email)::text,
    sqlc.narg(name)::text,
    sqlc.narg(image)::text
)
RETURNING id, email;

-- name: BenchTouchSecretCheckIn :one
-- The raw check-in, first statement: move the secret's schedule.
UPDATE secrets
SET last_check_in = now(),
    next_check_in = now() + make_interval(hours => 24 * check_in_days)
WHERE id = sqlc.arg(id)::uuid
    AND user_id = sqlc.arg(user_id)::text
    AND status <> 'triggered'
RETURNING next_check_in;

-- name: BenchInsertCheckIn :exec
-- The raw check-in, second statement, in the same transaction: the history row.
INSERT INTO checkin_history (secret_id, user_id, checked_in_at, next_check_in)
VALUES (
    sqlc.arg(secret_id)::uuid,
    sqlc.arg(user_id)::text,
    now(),
    sqlc.arg(next_check_in)::timestamptz
);

-- name: BenchAnalyze :exec
-- Fresh statistics after seeding, so the first round is planned like the last.
ANALYZE users, secrets, checkin_history, audit_events;

-- name: BenchServerSettings :many
-- The server settings a result depends on, formatted as SHOW prints them.
SELECT s.name, current_setting(s.name) AS setting
FROM pg_settings s
WHERE s.name = ANY(sqlc.arg(names)::text[])
ORDER BY s.name;
