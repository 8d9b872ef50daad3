-- The tables of the seed app (users, accounts, secrets, checkin_history) plus an audit
-- trail, with timestamptz everywhere and every constraint named, so that errors raised by
-- hand-written rows say which rule they broke.

-- +goose Up
CREATE TYPE public.contact_method AS ENUM ('email', 'phone', 'both');

CREATE TYPE public.secret_status AS ENUM ('active', 'paused', 'triggered');

CREATE TABLE public.users (
    id text NOT NULL,
    email text NOT NULL,
    email_verified timestamptz,
    name text,
    image text,
    password text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_id_length CHECK (char_length(id) BETWEEN 1 AND 255),
    -- Control characters, and the invisible spaces and format marks (U+00A0, U+200B,
    -- U+202E, ...) that would make two ids or emails look alike.
    CONSTRAINT users_id_no_control CHECK (
        id !~ '[[:cntrl:]]'
        AND id !~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]'
    ),
    CONSTRAINT users_email_normalised CHECK (email = lower(btrim(email, E' \t\n\r\f\x0B'))),
    CONSTRAINT users_email_format CHECK (
        char_length(email) <= 254
        AND email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'
        AND email !~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]'
    ),
    CONSTRAINT users_name_length CHECK (char_length(name) BETWEEN 1 AND 256),
    CONSTRAINT users_image_length CHECK (char_length(image) BETWEEN 1 AND 2048)
);

CREATE TABLE public.accounts (
    provider text NOT NULL,
    provider_account_id text NOT NULL,
    user_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_pkey PRIMARY KEY (provider, provider_account_id),
    CONSTRAINT accounts_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE CASCADE,
    CONSTRAINT accounts_provider_length CHECK (char_length(provider) BETWEEN 1 AND 64),
    CONSTRAINT accounts_provider_account_id_length
        CHECK (char_length(provider_account_id) BETWEEN 1 AND 255),
    CONSTRAINT accounts_provider_account_id_no_control
        CHECK (
            provider_account_id !~ '[[:cntrl:]]'
            AND provider_account_id !~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]'
        )
);

-- ensure_user looks accounts up by provider_account_id alone when no provider is given.
CREATE INDEX accounts_provider_account_id_idx ON public.accounts (provider_account_id);

CREATE INDEX accounts_user_id_idx ON public.accounts (user_id);

CREATE TABLE public.secrets (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id text NOT NULL,
    title text NOT NULL,
    recipient_name text NOT NULL,
    recipient_email text,
    recipient_phone text,
    contact_method public.contact_method NOT NULL DEFAULT 'email',
    check_in_days integer NOT NULL DEFAULT 30,
    status public.secret_status NOT NULL DEFAULT 'active',
    server_share text NOT NULL,
    iv text,
    auth_tag text,
    sss_shares_total integer NOT NULL DEFAULT 3,
    sss_threshold integer NOT NULL DEFAULT 2,
    last_check_in timestamptz,
    next_check_in timestamptz,
    triggered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT secrets_pkey PRIMARY KEY (id),
    CONSTRAINT secrets_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE CASCADE,
    CONSTRAINT secrets_title_length CHECK (char_length(title) BETWEEN 1 AND 256),
    CONSTRAINT secrets_recipient_name_length CHECK (char_length(recipient_name) BETWEEN 1 AND 256),
    CONSTRAINT secrets_recipient_email_length
        CHECK (char_length(recipient_email) BETWEEN 3 AND 254),
    CONSTRAINT secrets_recipient_phone_length CHECK (char_length(recipient_phone) BETWEEN 3 AND 32),
    CONSTRAINT secrets_contact_method_recipient CHECK (
        CASE contact_method
            WHEN 'email' THEN recipient_email IS NOT NULL
            WHEN 'phone' THEN recipient_phone IS NOT NULL
            ELSE recipient_email IS NOT NULL AND recipient_phone IS NOT NULL
        END
    ),
    CONSTRAINT secrets_check_in_days_range CHECK (check_in_days BETWEEN 2 AND 3650),
    CONSTRAINT secrets_server_share_length CHECK (char_length(server_share) BETWEEN 1 AND 16384),
    CONSTRAINT secrets_iv_length CHECK (char_length(iv) BETWEEN 1 AND 256),
    CONSTRAINT secrets_auth_tag_length CHECK (char_length(auth_tag) BETWEEN 1 AND 256),
    CONSTRAINT secrets_sss_range CHECK (
        sss_threshold >= 2 AND sss_threshold <= sss_shares_total AND sss_shares_total <= 10
    ),
    CONSTRAINT secrets_triggered_at_status
        CHECK (triggered_at IS NULL OR status = 'triggered')
);

-- "My secrets": the list a user sees, filtered by status.
CREATE INDEX secrets_user_id_status_idx ON public.secrets (user_id, status);

-- The due scan: active secrets whose next check-in has passed.
CREATE INDEX secrets_next_check_in_active_idx
    ON public.secrets (next_check_in)
    WHERE status = 'active';

CREATE TABLE public.checkin_history (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    secret_id uuid NOT NULL,
    user_id text NOT NULL,
    checked_in_at timestamptz NOT NULL DEFAULT now(),
    next_check_in timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkin_history_pkey PRIMARY KEY (id),
    CONSTRAINT checkin_history_secret_id_secrets_id_fk FOREIGN KEY (secret_id)
        REFERENCES public.secrets (id) ON DELETE CASCADE,
    CONSTRAINT checkin_history_user_id_users_id_fk FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE CASCADE,
    CONSTRAINT checkin_history_next_after_checked_in CHECK (next_check_in > checked_in_at)
);

CREATE INDEX checkin_history_secret_id_idx
    ON public.checkin_history (secret_id, checked_in_at DESC);

CREATE INDEX checkin_history_user_id_idx
    ON public.checkin_history (user_id, checked_in_at DESC);

-- Audit rows outlive the users they name, so user_id and object_id are plain text, not
-- foreign keys. details holds small facts only: never a share, a token or a password.
CREATE TABLE public.audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    user_id text,
    object_id text,
    db_role name NOT NULL DEFAULT session_user,
    details jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT audit_events_pkey PRIMARY KEY (id),
    CONSTRAINT audit_events_action_format CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    CONSTRAINT audit_events_details_object CHECK (jsonb_typeof(details) = 'object'),
    CONSTRAINT audit_events_details_size CHECK (pg_column_size(details) <= 2048)
);

CREATE INDEX audit_events_user_id_idx ON public.audit_events (user_id, occurred_at);

-- +goose Down
DROP TABLE public.audit_events;
DROP TABLE public.checkin_history;
DROP TABLE public.secrets;
DROP TABLE public.accounts;
DROP TABLE public.users;
DROP TYPE public.secret_status;
DROP TYPE public.contact_method;
