-- name: CreateSecret :one
CALL create_secret(
    p_user_id => sqlc.arg(user_id)::text,
    p_email => sqlc.arg(email)::text,
    p_title => sqlc.arg(title)::text,
    p_recipient_name => sqlc.arg(recipient_name)::text,
    p_server_share => sqlc.arg(server_share)::text,
    p_recipient_email => sqlc.narg(recipient_email)::text,
    p_recipient_phone => sqlc.narg(recipient_phone)::text,
    p_contact_method => sqlc.arg(contact_method)::text,
    p_check_in_days => sqlc.arg(check_in_days)::integer,
    p_iv => sqlc.narg(iv)::text,
    p_auth_tag => sqlc.narg(auth_tag)::text,
    p_sss_shares_total => sqlc.arg(sss_shares_total)::integer,
    p_sss_threshold => sqlc.arg(sss_threshold)::integer,
    p_name => sqlc.narg(name)::text,
    p_image => sqlc.narg(image)::text,
    p_email_verified => sqlc.arg(email_verified)::boolean,
    p_provider => sqlc.narg(provider)::text,
    p_link_verified_email => sqlc.arg(link_verified_email)::boolean
);

-- name: RecordCheckIn :one
CALL record_check_in(
    p_user_id => sqlc.arg(user_id)::text,
    p_email => sqlc.arg(email)::text,
    p_secret_id => sqlc.arg(secret_id)::text,
    p_name => sqlc.narg(name)::text,
    p_image => sqlc.narg(image)::text,
    p_email_verified => sqlc.arg(email_verified)::boolean,
    p_provider => sqlc.narg(provider)::text,
    p_link_verified_email => sqlc.arg(link_verified_email)::boolean
);

-- name: ListSecrets :many
-- The signed-in user's secrets, newest first. Shares, IVs and auth tags are not selected:
-- the service's role cannot read them.
SELECT
    s.id,
    s.title,
    s.recipient_name,
    s.recipient_email,
    s.recipient_phone,
    s.contact_method,
    s.check_in_days,
    s.status,
    s.sss_shares_total,
    s.sss_threshold,
    s.last_check_in,
    s.next_check_in,
    s.triggered_at,
    s.created_at,
    s.updated_at
FROM secrets s
WHERE s.user_id = resolve_user_id(p_user_id => sqlc.arg(user_id)::text)
ORDER BY s.created_at DESC, s.id;

-- name: GetSecret :one
-- One of the signed-in user's secrets; another user's id finds nothing, as a missing one.
SELECT
    s.id,
    s.title,
    s.recipient_name,
    s.recipient_email,
    s.recipient_phone,
    s.contact_method,
    s.check_in_days,
    s.status,
    s.sss_shares_total,
    s.sss_threshold,
    s.last_check_in,
    s.next_check_in,
    s.triggered_at,
    s.created_at,
    s.updated_at
FROM secrets s
WHERE s.id = sqlc.arg(secret_id)::uuid
    AND s.user_id = resolve_user_id(p_user_id => sqlc.arg(user_id)::text);
