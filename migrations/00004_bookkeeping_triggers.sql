-- Bookkeeping lives in triggers rather than in the routines, so that rows a DBA writes by
-- hand keep the same invariants as rows written through the API: emails normalised,
-- updated_at current, next_check_in derived from check_in_days, a check-in moving its
-- secret, and an audit row for every user, link, secret and check-in.
--
-- next_check_in is always check_in_days × 24 hours after the check-in (or creation). Adding
-- hours to a timestamptz is absolute, whereas adding days follows the session's TimeZone
-- across daylight-saving changes, so this rule gives the same instant for every caller.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_next_check_in(p_from timestamptz, p_days integer)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
RETURN p_from + make_interval(hours => 24 * p_days);
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_users_normalise()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.email := lower(btrim(NEW.email, E' \t\n\r\f\x0B'));
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_secrets_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.recipient_email := lower(btrim(NEW.recipient_email, E' \t\n\r\f\x0B'));

    IF TG_OP = 'INSERT' THEN
        IF NEW.next_check_in IS NULL THEN
            NEW.next_check_in := public.secretsdb_next_check_in(
                coalesce(NEW.last_check_in, NEW.created_at), NEW.check_in_days);
        END IF;
    ELSIF NEW.next_check_in IS NOT DISTINCT FROM OLD.next_check_in THEN
        IF OLD.status = 'triggered' AND NEW.status <> 'triggered' THEN
            -- Re-arming a fired secret starts a fresh period; the old due date has passed.
            NEW.next_check_in := public.secretsdb_next_check_in(now(), NEW.check_in_days);
        ELSIF NEW.check_in_days <> OLD.check_in_days THEN
            NEW.next_check_in := public.secretsdb_next_check_in(
                coalesce(NEW.last_check_in, NEW.created_at), NEW.check_in_days);
        END IF;
    END IF;

    -- triggered_at records when the switch fired; re-arming a secret clears it.
    IF NEW.status = 'triggered' THEN
        NEW.triggered_at := coalesce(NEW.triggered_at, now());
    ELSE
        NEW.triggered_at := NULL;
    END IF;

    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- A check-in row must belong to the secret's owner and to a secret that has not fired.
-- The secret is locked so that concurrent check-ins of one secret are applied in turn.
-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_checkin_before_insert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner text;
    v_days integer;
    v_status public.secret_status;
BEGIN
    SELECT s.user_id, s.check_in_days, s.status
    INTO v_owner, v_days, v_status
    FROM public.secrets s
    WHERE s.id = NEW.secret_id
    FOR UPDATE;

    IF NOT FOUND OR v_owner <> NEW.user_id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'SD003',
            MESSAGE = format('secret %s not found for user %s', NEW.secret_id, NEW.user_id),
            HINT = 'A check-in row needs an existing secret and its owner''s user_id.';
    END IF;

    IF v_status = 'triggered' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'SD004',
            MESSAGE = format('secret %s has been triggered and takes no more check-ins',
                NEW.secret_id),
            HINT = 'Set the secret''s status back to active before checking in.';
    END IF;

    IF NEW.next_check_in IS NULL THEN
        NEW.next_check_in := public.secretsdb_next_check_in(NEW.checked_in_at, v_days);
    END IF;

    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- A back-filled, older check-in is kept in the history but does not move the secret back.
-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_checkin_after_insert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE public.secrets s
    SET last_check_in = NEW.checked_in_at,
        next_check_in = NEW.next_check_in
    WHERE s.id = NEW.secret_id
        AND (s.last_check_in IS NULL OR s.last_check_in <= NEW.checked_in_at);

    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_audit_insert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE TG_TABLE_NAME
        WHEN 'users' THEN
            INSERT INTO public.audit_events (action, user_id, object_id, details)
            VALUES (
                'user.created',
                NEW.id,
                NEW.id,
                jsonb_build_object('email_verified', NEW.email_verified IS NOT NULL)
            );
        WHEN 'accounts' THEN
            INSERT INTO public.audit_events (action, user_id, object_id, details)
            VALUES (
                'user.linked',
                NEW.user_id,
                NEW.provider_account_id,
                jsonb_build_object('provider', NEW.provider)
            );
        WHEN 'secrets' THEN
            INSERT INTO public.audit_events (action, user_id, object_id, details)
            VALUES (
                'secret.created',
                NEW.user_id,
                NEW.id::text,
                jsonb_build_object(
                    'check_in_days', NEW.check_in_days,
                    'contact_method', NEW.contact_method,
                    'next_check_in', NEW.next_check_in
                )
            );
        WHEN 'checkin_history' THEN
            INSERT INTO public.audit_events (action, user_id, object_id, details)
            VALUES (
                'secret.checked_in',
                NEW.user_id,
                NEW.secret_id::text,
                jsonb_build_object('next_check_in', NEW.next_check_in)
            );
    END CASE;

    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_audit_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'SD005',
        MESSAGE = format('audit_events is append-only: %s is not allowed', TG_OP),
        HINT = format('Audit rows are kept for good; the table owner may archive them by '
            'disabling trigger %I for one transaction.', TG_NAME);
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_normalise
    BEFORE INSERT OR UPDATE OF email ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_users_normalise();

CREATE TRIGGER users_touch_updated_at
    BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_touch_updated_at();

CREATE TRIGGER users_audit
    AFTER INSERT ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_audit_insert();

CREATE TRIGGER accounts_audit
    AFTER INSERT ON public.accounts
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_audit_insert();

CREATE TRIGGER secrets_before_write
    BEFORE INSERT OR UPDATE ON public.secrets
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_secrets_before_write();

CREATE TRIGGER secrets_touch_updated_at
    BEFORE UPDATE ON public.secrets
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_touch_updated_at();

CREATE TRIGGER secrets_audit
    AFTER INSERT ON public.secrets
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_audit_insert();

CREATE TRIGGER checkin_history_before_insert
    BEFORE INSERT ON public.checkin_history
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_checkin_before_insert();

CREATE TRIGGER checkin_history_after_insert
    AFTER INSERT ON public.checkin_history
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_checkin_after_insert();

CREATE TRIGGER checkin_history_audit
    AFTER INSERT ON public.checkin_history
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_audit_insert();

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON public.audit_events
    FOR EACH ROW EXECUTE FUNCTION public.secretsdb_audit_append_only();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON public.audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION public.secretsdb_audit_append_only();

-- +goose Down
DROP TRIGGER audit_events_no_truncate ON public.audit_events;
DROP TRIGGER audit_events_append_only ON public.audit_events;
DROP TRIGGER checkin_history_audit ON public.checkin_history;
DROP TRIGGER checkin_history_after_insert ON public.checkin_history;
DROP TRIGGER checkin_history_before_insert ON public.checkin_history;
DROP TRIGGER secrets_audit ON public.secrets;
DROP TRIGGER secrets_touch_updated_at ON public.secrets;
DROP TRIGGER secrets_before_write ON public.secrets;
DROP TRIGGER accounts_audit ON public.accounts;
DROP TRIGGER users_audit ON public.users;
DROP TRIGGER users_touch_updated_at ON public.users;
DROP TRIGGER users_normalise ON public.users;
DROP FUNCTION public.secretsdb_audit_append_only();
DROP FUNCTION public.secretsdb_audit_insert();
DROP FUNCTION public.secretsdb_checkin_after_insert();
DROP FUNCTION public.secretsdb_checkin_before_insert();
DROP FUNCTION public.secretsdb_secrets_before_write();
DROP FUNCTION public.secretsdb_users_normalise();
DROP FUNCTION public.secretsdb_touch_updated_at();
DROP FUNCTION public.secretsdb_next_check_in(timestamptz, integer);
