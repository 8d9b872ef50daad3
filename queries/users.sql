-- name: EnsureUser :one
SELECT
    e.user_id,
    e.email,
    e.outcome
FROM ensure_user(
    p_user_id => sqlc.arg(user_id)::text,
    p_email => sqlc.arg(email)::text,
    p_name => sqlc.narg(name)::text,
    p_image => sqlc.narg(image)::text,
    p_email_verified => sqlc.arg(email_verified)::boolean,
    p_provider => sqlc.narg(provider)::text,
    p_link_verified_email => sqlc.arg(link_verified_email)::boolean
) e;

-- name: UserExists :one
SELECT user_exists(p_user_id => sqlc.arg(user_id)::text)::boolean AS exists;

-- name: SchemaVersion :one
SELECT schema_version()::bigint AS version;
