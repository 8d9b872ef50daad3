-- Who may do what. PostgreSQL grants EXECUTE on new routines to PUBLIC; this takes it back,
-- lets secretsdb_app call the API, and lets it read the columns the service lists. The app
-- role writes nothing directly: every write goes through a routine running as its owner.
-- Shares, IVs, auth tags and password hashes are not readable by it at all.

-- +goose Up
REVOKE EXECUTE ON FUNCTION public.secretsdb_invalid_input(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_check_text(text, text, integer, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_normalize_email(text, text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_claims_ok(text, text, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_next_check_in(timestamptz, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_touch_updated_at() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_users_normalise() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_secrets_before_write() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_checkin_before_insert() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_checkin_after_insert() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_audit_insert() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.secretsdb_audit_append_only() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.ensure_user(text, text, text, text, boolean, text, boolean)
    FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.user_exists(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.resolve_user_id(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION public.schema_version() FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE public.create_secret(
    text, text, text, text, text, text, text, text, integer, text, text, integer, integer,
    text, text, boolean, text, boolean, uuid, text, text, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE public.record_check_in(
    text, text, text, text, text, boolean, text, boolean, text, text, timestamptz, timestamptz)
    FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO secretsdb_app;

GRANT EXECUTE ON FUNCTION public.ensure_user(text, text, text, text, boolean, text, boolean)
    TO secretsdb_app;
GRANT EXECUTE ON FUNCTION public.user_exists(text) TO secretsdb_app;
GRANT EXECUTE ON FUNCTION public.resolve_user_id(text) TO secretsdb_app;
GRANT EXECUTE ON FUNCTION public.schema_version() TO secretsdb_app;
GRANT EXECUTE ON PROCEDURE public.create_secret(
    text, text, text, text, text, text, text, text, integer, text, text, integer, integer,
    text, text, boolean, text, boolean, uuid, text, text, timestamptz) TO secretsdb_app;
GRANT EXECUTE ON PROCEDURE public.record_check_in(
    text, text, text, text, text, boolean, text, boolean, text, text, timestamptz, timestamptz)
    TO secretsdb_app;

GRANT SELECT (
    id,
    email,
    email_verified,
    name,
    image,
    created_at,
    updated_at
) ON public.users TO secretsdb_app;

GRANT SELECT (
    id,
    user_id,
    title,
    recipient_name,
    recipient_email,
    recipient_phone,
    contact_method,
    check_in_days,
    status,
    sss_shares_total,
    sss_threshold,
    last_check_in,
    next_check_in,
    triggered_at,
    created_at,
    updated_at
) ON public.secrets TO secretsdb_app;

GRANT SELECT ON public.checkin_history TO secretsdb_app;

-- +goose Down
REVOKE ALL ON public.checkin_history FROM secretsdb_app;
REVOKE ALL ON public.secrets FROM secretsdb_app;
REVOKE ALL ON public.users FROM secretsdb_app;
REVOKE ALL ON PROCEDURE public.record_check_in(
    text, text, text, text, text, boolean, text, boolean, text, text, timestamptz, timestamptz)
    FROM secretsdb_app;
REVOKE ALL ON PROCEDURE public.create_secret(
    text, text, text, text, text, text, text, text, integer, text, text, integer, integer,
    text, text, boolean, text, boolean, uuid, text, text, timestamptz) FROM secretsdb_app;
REVOKE ALL ON FUNCTION public.schema_version() FROM secretsdb_app;
REVOKE ALL ON FUNCTION public.resolve_user_id(text) FROM secretsdb_app;
REVOKE ALL ON FUNCTION public.user_exists(text) FROM secretsdb_app;
REVOKE ALL ON FUNCTION public.ensure_user(text, text, text, text, boolean, text, boolean)
    FROM secretsdb_app;
REVOKE USAGE ON SCHEMA public FROM secretsdb_app;
