-- Validation shared by the SQL API. Every routine validates its own input, because psql is a
-- real path and the Go layer's checks are only an early, faster copy. Failures raise SQLSTATE
-- SD001 with the offending field in the error's COLUMN, a message naming the limit, and a hint
-- naming the parameter, so Go can map them without parsing text.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_invalid_input(p_field text, p_message text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'SD001',
        MESSAGE = p_message,
        COLUMN = p_field,
        HINT = format('Correct p_%s and call again; nothing was written.', p_field);
END
$$;
-- +goose StatementEnd

-- secretsdb_check_text returns p_value unchanged, or NULL when an optional value is empty
-- or only whitespace (a profile claim of "" means "no name", not a name of zero letters).
-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_check_text(
    p_field text,
    p_value text,
    p_max integer,
    p_required boolean
)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_value IS NULL OR btrim(p_value, E' \t\n\r\f\x0B') = '' THEN
        IF p_required THEN
            PERFORM public.secretsdb_invalid_input(
                p_field, format('%s is required and must not be empty', p_field));
        END IF;
        RETURN NULL;
    END IF;

    IF char_length(p_value) > p_max THEN
        PERFORM public.secretsdb_invalid_input(
            p_field,
            format('%s must be at most %s characters, got %s',
                p_field, p_max, char_length(p_value)));
    END IF;

    IF p_value ~ '[[:cntrl:]]' THEN
        PERFORM public.secretsdb_invalid_input(
            p_field, format('%s must not contain control characters', p_field));
    END IF;

    RETURN p_value;
END
$$;
-- +goose StatementEnd

-- Emails are compared and stored trimmed and lower-cased, so "  Jo@Example.COM " and
-- "jo@example.com" are one person whichever path wrote them.
-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_normalize_email(p_field text, p_value text, p_required boolean)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_email text := lower(btrim(p_value, E' \t\n\r\f\x0B'));
BEGIN
    IF v_email IS NULL OR v_email = '' THEN
        IF p_required THEN
            PERFORM public.secretsdb_invalid_input(
                p_field, format('%s is required and must not be empty', p_field));
        END IF;
        RETURN NULL;
    END IF;

    IF char_length(v_email) > 254 THEN
        PERFORM public.secretsdb_invalid_input(
            p_field,
            format('%s must be at most 254 characters, got %s', p_field, char_length(v_email)));
    END IF;

    IF v_email !~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$' THEN
        PERFORM public.secretsdb_invalid_input(
            p_field,
            format('%s must be an address of the form name@domain, got %L', p_field, v_email));
    END IF;

    -- Invisible spaces and format marks (U+00A0, U+200B, ...) would make one address
    -- two users, and a recipient address no mail server knows.
    IF v_email ~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]' THEN
        PERFORM public.secretsdb_invalid_input(
            p_field,
            format('%s must not contain invisible or formatting characters such as U+00A0 '
                'or U+200B', p_field));
    END IF;

    RETURN v_email;
END
$$;
-- +goose StatementEnd

-- secretsdb_claims_ok says, in one expression and without raising, whether a session's
-- claims pass every rule of ensure_user's field-by-field checks above. The routines ask it
-- first and run those checks only when it says no, to name the failing field: on the hot
-- path one call replaces five, each of which costs more than the rule it checks.
-- +goose StatementBegin
CREATE FUNCTION public.secretsdb_claims_ok(
    p_user_id text,
    p_email text,
    p_name text,
    p_image text,
    p_provider text
)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
-- PL/pgSQL rather than SQL: a SQL function that cannot be inlined (SET prevents it) is
-- planned again in every transaction, which costs more than the checks themselves.
DECLARE
    v_email text := lower(btrim(p_email, E' \t\n\r\f\x0B'));
BEGIN
    RETURN coalesce(
        char_length(p_user_id) BETWEEN 1 AND 255
            AND btrim(p_user_id, E' \t\n\r\f\x0B') <> ''
            AND char_length(v_email) <= 254
            AND v_email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'
            AND concat(v_email, p_user_id) !~ '[\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff]'
            AND coalesce(char_length(p_name), 0) <= 256
            AND coalesce(char_length(p_image), 0) <= 2048
            AND coalesce(char_length(p_provider), 0) <= 64
            AND concat(p_user_id, p_name, p_image, p_provider) !~ '[[:cntrl:]]',
        false
    );
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION public.secretsdb_claims_ok(text, text, text, text, text);
DROP FUNCTION public.secretsdb_normalize_email(text, text, boolean);
DROP FUNCTION public.secretsdb_check_text(text, text, integer, boolean);
DROP FUNCTION public.secretsdb_invalid_input(text, text);
