-- The SQL API: the routines a DBA calls from psql and the Go service wraps. Provisioning the
-- session's user and writing the row it came for happen in one call, in the caller's
-- transaction, so a session whose user was never stored can no longer fail on
-- secrets_user_id_users_id_fk. No routine commits: each behaves the same in autocommit,
-- inside a caller's transaction, and inside BEGIN ... ROLLBACK.
--
-- Every routine runs as its owner (SECURITY DEFINER) with a pinned search_path and
-- schema-qualified names, so objects in the caller's schemas cannot redirect it.
--
-- Errors (see docs/sql-api.md): SD001 invalid input (field in COLUMN), SD002 email in use,
-- SD003 secret not found, SD004 secret triggered.

-- +goose Up
-- ensure_user resolves the session's user, creating it when missing. Order: a user with
-- that id; else an account linked under that id (and provider, when given); else a new
-- user. When the email already belongs to another user, the id is linked to that user only
-- if the email is verified and the caller allows linking; otherwise SD002.
--
-- Each lookup is its own statement so that, under READ COMMITTED, it sees rows committed by
-- a concurrent caller that ON CONFLICT waited for; a single CTE would read the old snapshot
-- and return nothing. Under REPEATABLE READ the conflict raises 40001 instead, which callers
-- retry. An existing user costs one read and no write, unless a profile field is still
-- missing and the session now has it.
-- +goose StatementBegin
CREATE FUNCTION public.ensure_user(
    p_user_id text,
    p_email text,
    p_name text DEFAULT NULL,
    p_image text DEFAULT NULL,
    p_email_verified boolean DEFAULT false,
    p_provider text DEFAULT NULL,
    p_link_verified_email boolean DEFAULT false,
    OUT user_id text,
    OUT email text,
    OUT outcome text
)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_email text;
    v_name text;
    v_image text;
    v_provider text;
    v_verified boolean := coalesce(p_email_verified, false);
    v_user record;
    v_owner record;
    c_space constant text := E' \t\n\r\f\x0B';
BEGIN
    IF public.secretsdb_claims_ok(p_user_id, p_email, p_name, p_image, p_provider) THEN
        v_email := lower(btrim(p_email, c_space));
        v_name := CASE WHEN btrim(p_name, c_space) <> '' THEN p_name END;
        v_image := CASE WHEN btrim(p_image, c_space) <> '' THEN p_image END;
        v_provider := CASE WHEN btrim(p_provider, c_space) <> '' THEN p_provider END;
    ELSE
        PERFORM public.secretsdb_check_text('user_id', p_user_id, 255, true);
        IF p_user_id ~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]' THEN
            PERFORM public.secretsdb_invalid_input(
                'user_id',
                'user_id must not contain invisible or formatting characters such as U+00A0 '
                    'or U+200B');
        END IF;
        v_email := public.secretsdb_normalize_email('email', p_email, true);
        v_name := public.secretsdb_check_text('name', p_name, 256, false);
        v_image := public.secretsdb_check_text('image', p_image, 2048, false);
        v_provider := public.secretsdb_check_text('provider', p_provider, 64, false);
    END IF;

    -- Three rounds cover a row that a concurrent transaction deletes between our insert's
    -- conflict and the lookup that follows it.
    FOR v_round IN 1..3 LOOP
        SELECT u.id, u.email, u.name, u.image, u.email_verified
        INTO v_user
        FROM public.users u
        WHERE u.id = p_user_id;

        IF FOUND THEN
            IF (v_user.name IS NULL AND v_name IS NOT NULL)
                OR (v_user.image IS NULL AND v_image IS NOT NULL)
                OR (v_user.email_verified IS NULL AND v_verified) THEN
                UPDATE public.users u
                SET name = coalesce(u.name, v_name),
                    image = coalesce(u.image, v_image),
                    email_verified = CASE
                        WHEN u.email_verified IS NULL AND v_verified THEN now()
                        ELSE u.email_verified
                    END
                WHERE u.id = p_user_id;
            END IF;

            user_id := v_user.id;
            email := v_user.email;
            outcome := 'existing';
            RETURN;
        END IF;

        SELECT u.id, u.email
        INTO v_user
        FROM public.accounts a
        JOIN public.users u ON u.id = a.user_id
        WHERE a.provider_account_id = p_user_id
            AND (v_provider IS NULL OR a.provider = v_provider)
        ORDER BY a.created_at, a.provider
        LIMIT 1;

        IF FOUND THEN
            user_id := v_user.id;
            email := v_user.email;
            outcome := 'existing';
            RETURN;
        END IF;

        INSERT INTO public.users AS u (id, email, email_verified, name, image)
        VALUES (
            p_user_id,
            v_email,
            CASE WHEN v_verified THEN now() END,
            v_name,
            v_image
        )
        ON CONFLICT DO NOTHING
        RETURNING u.id, u.email INTO v_user;

        IF FOUND THEN
            user_id := v_user.id;
            email := v_user.email;
            outcome := 'created';
            RETURN;
        END IF;

        -- The insert met either a concurrent user with this id (found by the next round)
        -- or another user holding this email.
        SELECT u.id, u.email
        INTO v_owner
        FROM public.users u
        WHERE u.email = v_email AND u.id <> p_user_id;

        IF FOUND THEN
            IF NOT (v_verified AND coalesce(p_link_verified_email, false)) THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'SD002',
                    MESSAGE = format('email %s already belongs to another user', v_email),
                    COLUMN = 'email',
                    HINT = 'Sign in with the account that owns this email, or pass '
                        'p_email_verified and p_link_verified_email to link this id to it.';
            END IF;

            INSERT INTO public.accounts AS a (provider, provider_account_id, user_id)
            VALUES (coalesce(v_provider, 'unspecified'), p_user_id, v_owner.id)
            ON CONFLICT DO NOTHING;

            IF FOUND THEN
                user_id := v_owner.id;
                email := v_owner.email;
                outcome := 'linked';
                RETURN;
            END IF;
        END IF;
    END LOOP;

    RAISE EXCEPTION USING
        ERRCODE = '40001',
        MESSAGE = format('user %s changed concurrently while being resolved', p_user_id),
        HINT = 'Retry the transaction.';
END
$$;
-- +goose StatementEnd

-- resolve_user_id answers which user a session id stands for, without provisioning: the
-- user with that id, else the user an account under that id is linked to, else NULL. It is
-- ensure_user's lookup order, so reads agree with what the writes resolved.
-- +goose StatementBegin
CREATE FUNCTION public.resolve_user_id(p_user_id text)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT coalesce(
        (SELECT u.id FROM public.users u WHERE u.id = p_user_id),
        (
            SELECT a.user_id
            FROM public.accounts a
            WHERE a.provider_account_id = p_user_id
            ORDER BY a.created_at, a.provider
            LIMIT 1
        )
    );
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION public.user_exists(p_user_id text)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT public.resolve_user_id(p_user_id) IS NOT NULL;
END;
-- +goose StatementEnd

-- schema_version lets the service check, without read access to goose's table, that the
-- database carries the migrations it was built with.
-- +goose StatementBegin
CREATE FUNCTION public.schema_version()
RETURNS bigint
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT coalesce(max(v.version_id), 0) FROM public.goose_db_version v;
END;
-- +goose StatementEnd

-- create_secret provisions the session's user and stores the secret under the resolved id.
-- Outputs come back as INOUT parameters; from psql, name the inputs and leave them out.
-- +goose StatementBegin
CREATE PROCEDURE public.create_secret(
    p_user_id text,
    p_email text,
    p_title text,
    p_recipient_name text,
    p_server_share text,
    p_recipient_email text DEFAULT NULL,
    p_recipient_phone text DEFAULT NULL,
    p_contact_method text DEFAULT 'email',
    p_check_in_days integer DEFAULT 30,
    p_iv text DEFAULT NULL,
    p_auth_tag text DEFAULT NULL,
    p_sss_shares_total integer DEFAULT 3,
    p_sss_threshold integer DEFAULT 2,
    p_name text DEFAULT NULL,
    p_image text DEFAULT NULL,
    p_email_verified boolean DEFAULT false,
    p_provider text DEFAULT NULL,
    p_link_verified_email boolean DEFAULT false,
    INOUT secret_id uuid DEFAULT NULL,
    INOUT user_id text DEFAULT NULL,
    INOUT outcome text DEFAULT NULL,
    INOUT next_check_in timestamptz DEFAULT NULL
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_title text;
    v_recipient_name text;
    v_recipient_email text;
    v_recipient_phone text;
    v_method public.contact_method;
    v_share text;
    v_iv text;
    v_auth_tag text;
    v_user_id text;
    v_outcome text;
    v_secret_id uuid;
    v_next timestamptz;
    v_fast boolean;
    v_email text;
    c_space constant text := E' \t\n\r\f\x0B';
BEGIN
    v_email := lower(btrim(p_email, c_space));
    v_title := p_title;
    v_recipient_name := p_recipient_name;
    v_share := p_server_share;
    v_recipient_email := nullif(lower(btrim(p_recipient_email, c_space)), '');
    v_recipient_phone := CASE
        WHEN btrim(p_recipient_phone, c_space) <> '' THEN p_recipient_phone
    END;
    v_iv := CASE WHEN btrim(p_iv, c_space) <> '' THEN p_iv END;
    v_auth_tag := CASE WHEN btrim(p_auth_tag, c_space) <> '' THEN p_auth_tag END;

    -- One expression checks every rule of the field-by-field checks below, which run only
    -- when it fails, to raise the first failure with its field and limit. On the hot path
    -- that saves a dozen helper calls, each dearer than the rule it checks.
    v_fast := coalesce(
            -- The claims, as secretsdb_claims_ok checks them, inlined: the call would
            -- cost more than the checks.
            char_length(p_user_id) BETWEEN 1 AND 255
                AND btrim(p_user_id, c_space) <> ''
                AND char_length(v_email) <= 254
                AND v_email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'
                AND concat(v_email, p_user_id) !~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]'
                AND coalesce(char_length(p_name), 0) <= 256
                AND coalesce(char_length(p_image), 0) <= 2048
                AND coalesce(char_length(p_provider), 0) <= 64
                AND concat(p_user_id, p_name, p_image, p_provider) !~ '[[:cntrl:]]',
            false
        )
        AND coalesce(
            char_length(p_title) <= 256
                AND btrim(p_title, c_space) <> ''
                AND char_length(p_recipient_name) <= 256
                AND btrim(p_recipient_name, c_space) <> ''
                AND char_length(p_server_share) <= 16384
                AND btrim(p_server_share, c_space) <> ''
                AND coalesce(char_length(v_recipient_email), 0) <= 254
                AND coalesce(
                    v_recipient_email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'
                        AND v_recipient_email !~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]',
                    true)
                AND coalesce(char_length(v_recipient_phone), 0) <= 32
                AND coalesce(v_recipient_phone ~ '^\+?[0-9][0-9 ().-]{2,31}$', true)
                AND coalesce(char_length(v_iv), 0) <= 256
                AND coalesce(char_length(v_auth_tag), 0) <= 256
                AND concat(p_title, p_recipient_name, p_server_share, v_iv, v_auth_tag)
                    !~ '[[:cntrl:]]'
                AND p_contact_method IN ('email', 'phone', 'both')
                AND (p_contact_method = 'phone' OR v_recipient_email IS NOT NULL)
                AND (p_contact_method = 'email' OR v_recipient_phone IS NOT NULL)
                AND p_check_in_days BETWEEN 2 AND 3650
                AND p_sss_shares_total BETWEEN 2 AND 10
                AND p_sss_threshold BETWEEN 2 AND p_sss_shares_total,
            false
        );

    IF NOT v_fast THEN
        v_title := public.secretsdb_check_text('title', p_title, 256, true);
        v_recipient_name := public.secretsdb_check_text('recipient_name', p_recipient_name, 256, true);
        v_recipient_email := public.secretsdb_normalize_email(
            'recipient_email', p_recipient_email, false);
        v_recipient_phone := public.secretsdb_check_text(
            'recipient_phone', p_recipient_phone, 32, false);
        v_share := public.secretsdb_check_text('server_share', p_server_share, 16384, true);
        v_iv := public.secretsdb_check_text('iv', p_iv, 256, false);
        v_auth_tag := public.secretsdb_check_text('auth_tag', p_auth_tag, 256, false);

        IF v_recipient_phone IS NOT NULL AND v_recipient_phone !~ '^\+?[0-9][0-9 ().-]{2,31}$' THEN
            PERFORM public.secretsdb_invalid_input(
                'recipient_phone',
                format('recipient_phone must be digits with an optional leading +, got %L',
                    v_recipient_phone));
        END IF;

        IF p_contact_method IS NULL OR p_contact_method NOT IN ('email', 'phone', 'both') THEN
            PERFORM public.secretsdb_invalid_input(
                'contact_method',
                format('contact_method must be one of email, phone, both, got %L',
                    p_contact_method));
        END IF;
        v_method := p_contact_method::public.contact_method;

        IF v_method IN ('email', 'both') AND v_recipient_email IS NULL THEN
            PERFORM public.secretsdb_invalid_input(
                'recipient_email',
                format('recipient_email is required when contact_method is %s', v_method));
        END IF;
        IF v_method IN ('phone', 'both') AND v_recipient_phone IS NULL THEN
            PERFORM public.secretsdb_invalid_input(
                'recipient_phone',
                format('recipient_phone is required when contact_method is %s', v_method));
        END IF;

        IF p_check_in_days IS NULL OR p_check_in_days NOT BETWEEN 2 AND 3650 THEN
            PERFORM public.secretsdb_invalid_input(
                'check_in_days',
                format('check_in_days must be 2..3650, got %s',
                    coalesce(p_check_in_days::text, 'NULL')));
        END IF;
        IF p_sss_shares_total IS NULL OR p_sss_shares_total NOT BETWEEN 2 AND 10 THEN
            PERFORM public.secretsdb_invalid_input(
                'sss_shares_total',
                format('sss_shares_total must be 2..10, got %s',
                    coalesce(p_sss_shares_total::text, 'NULL')));
        END IF;
        IF p_sss_threshold IS NULL OR p_sss_threshold NOT BETWEEN 2 AND p_sss_shares_total THEN
            PERFORM public.secretsdb_invalid_input(
                'sss_threshold',
                format('sss_threshold must be 2..sss_shares_total (%s), got %s',
                    p_sss_shares_total, coalesce(p_sss_threshold::text, 'NULL')));
        END IF;
    END IF;
    v_method := p_contact_method::public.contact_method;

    -- A user who exists and has nothing to fill in (ensure_user's read-only first step)
    -- costs one read here; anyone else goes through ensure_user, which also raises for
    -- claims the check above refused.
    IF v_fast THEN
        SELECT u.id
        INTO v_user_id
        FROM public.users u
        WHERE u.id = p_user_id
            AND (
                (u.name IS NULL AND btrim(p_name, c_space) <> '')
                OR (u.image IS NULL AND btrim(p_image, c_space) <> '')
                OR (u.email_verified IS NULL AND coalesce(p_email_verified, false))
            ) IS NOT TRUE;
        v_outcome := 'existing';
    END IF;
    IF v_user_id IS NULL THEN
        SELECT e.user_id, e.outcome
        INTO v_user_id, v_outcome
        FROM public.ensure_user(
            p_user_id => p_user_id,
            p_email => p_email,
            p_name => p_name,
            p_image => p_image,
            p_email_verified => p_email_verified,
            p_provider => p_provider,
            p_link_verified_email => p_link_verified_email
        ) e;
    END IF;

    INSERT INTO public.secrets AS s (
        user_id,
        title,
        recipient_name,
        recipient_email,
        recipient_phone,
        contact_method,
        check_in_days,
        server_share,
        iv,
        auth_tag,
        sss_shares_total,
        sss_threshold
    )
    VALUES (
        v_user_id,
        v_title,
        v_recipient_name,
        v_recipient_email,
        v_recipient_phone,
        v_method,
        p_check_in_days,
        v_share,
        v_iv,
        v_auth_tag,
        p_sss_shares_total,
        p_sss_threshold
    )
    RETURNING s.id, s.next_check_in INTO v_secret_id, v_next;

    secret_id := v_secret_id;
    user_id := v_user_id;
    outcome := v_outcome;
    next_check_in := v_next;
END
$$;
-- +goose StatementEnd

-- record_check_in provisions the session's user, then records a check-in of one of that
-- user's secrets. A secret of someone else gets the same SD003 as a missing one, so ids
-- cannot be probed. A paused secret records the check-in and stays paused.
-- +goose StatementBegin
CREATE PROCEDURE public.record_check_in(
    p_user_id text,
    p_email text,
    p_secret_id text,
    p_name text DEFAULT NULL,
    p_image text DEFAULT NULL,
    p_email_verified boolean DEFAULT false,
    p_provider text DEFAULT NULL,
    p_link_verified_email boolean DEFAULT false,
    INOUT user_id text DEFAULT NULL,
    INOUT outcome text DEFAULT NULL,
    INOUT checked_in_at timestamptz DEFAULT NULL,
    INOUT next_check_in timestamptz DEFAULT NULL
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_secret_id uuid;
    v_user_id text;
    v_outcome text;
    v_status public.secret_status;
    v_checked_in_at timestamptz;
    v_next timestamptz;
    v_email text;
    c_space constant text := E' \t\n\r\f\x0B';
BEGIN
    IF p_secret_id IS NULL
        OR p_secret_id !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
        PERFORM public.secretsdb_invalid_input(
            'secret_id',
            format('secret_id must be a UUID, got %L', left(p_secret_id, 64)));
    END IF;
    v_secret_id := p_secret_id::uuid;

    -- As in create_secret: a settled user costs one read, anyone else ensure_user.
    v_email := lower(btrim(p_email, c_space));
    IF coalesce(
            -- The claims, as secretsdb_claims_ok checks them, inlined: the call would
            -- cost more than the checks.
            char_length(p_user_id) BETWEEN 1 AND 255
                AND btrim(p_user_id, c_space) <> ''
                AND char_length(v_email) <= 254
                AND v_email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'
                AND concat(v_email, p_user_id) !~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]'
                AND coalesce(char_length(p_name), 0) <= 256
                AND coalesce(char_length(p_image), 0) <= 2048
                AND coalesce(char_length(p_provider), 0) <= 64
                AND concat(p_user_id, p_name, p_image, p_provider) !~ '[[:cntrl:]]',
            false
        ) THEN
        SELECT u.id
        INTO v_user_id
        FROM public.users u
        WHERE u.id = p_user_id
            AND (
                (u.name IS NULL AND btrim(p_name, c_space) <> '')
                OR (u.image IS NULL AND btrim(p_image, c_space) <> '')
                OR (u.email_verified IS NULL AND coalesce(p_email_verified, false))
            ) IS NOT TRUE;
        v_outcome := 'existing';
    END IF;
    IF v_user_id IS NULL THEN
        SELECT e.user_id, e.outcome
        INTO v_user_id, v_outcome
        FROM public.ensure_user(
            p_user_id => p_user_id,
            p_email => p_email,
            p_name => p_name,
            p_image => p_image,
            p_email_verified => p_email_verified,
            p_provider => p_provider,
            p_link_verified_email => p_link_verified_email
        ) e;
    END IF;

    SELECT s.status
    INTO v_status
    FROM public.secrets s
    WHERE s.id = v_secret_id AND s.user_id = v_user_id
    FOR UPDATE;

    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'SD003',
            MESSAGE = format('secret %s not found', v_secret_id),
            COLUMN = 'secret_id',
            HINT = 'Check in only secrets of the signed-in user.';
    END IF;

    IF v_status = 'triggered' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'SD004',
            MESSAGE = format('secret %s has been triggered and takes no more check-ins',
                v_secret_id),
            COLUMN = 'secret_id',
            HINT = 'A triggered secret has been released to its recipient.';
    END IF;

    INSERT INTO public.checkin_history AS h (secret_id, user_id, checked_in_at)
    VALUES (v_secret_id, v_user_id, now())
    RETURNING h.checked_in_at, h.next_check_in INTO v_checked_in_at, v_next;

    user_id := v_user_id;
    outcome := v_outcome;
    checked_in_at := v_checked_in_at;
    next_check_in := v_next;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP PROCEDURE public.record_check_in(
    text, text, text, text, text, boolean, text, boolean, text, text, timestamptz, timestamptz);
DROP PROCEDURE public.create_secret(
    text, text, text, text, text, text, text, text, integer, text, text, integer, integer,
    text, text, boolean, text, boolean, uuid, text, text, timestamptz);
DROP FUNCTION public.schema_version();
DROP FUNCTION public.user_exists(text);
DROP FUNCTION public.resolve_user_id(text);
DROP FUNCTION public.ensure_user(text, text, text, text, boolean, text, boolean);
