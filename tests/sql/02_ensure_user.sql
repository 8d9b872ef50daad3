-- ensure_user as a DBA calls it from psql: the created / existing / linked outcomes, email
-- normalisation, the default refusal to merge two ids over one email (SD002), and SD001 with
-- the field in the error's COLUMN for every malformed input, with nothing written.
BEGIN;
SET LOCAL search_path = public, tap;

SELECT plan(55);

-- error_column runs p_sql and returns the SQLSTATE and COLUMN of the error it raises, which
-- throws_ok cannot see; NULL when nothing is raised.
CREATE FUNCTION pg_temp.error_column(p_sql text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_state text;
    v_column text;
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_column = COLUMN_NAME;
        RETURN v_state || ' ' || v_column;
END
$$;

-- error_hint runs p_sql and returns the HINT of the error it raises; NULL when none.
CREATE FUNCTION pg_temp.error_hint(p_sql text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_hint text;
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
        RETURN v_hint;
END
$$;

-- created, with the email trimmed and lower-cased in SQL.
SELECT results_eq(
    $$ SELECT * FROM ensure_user('103890241628354500674', '  Jordan.Lee@Example.COM ') $$,
    $$ VALUES ('103890241628354500674', 'jordan.lee@example.com', 'created') $$,
    'a new id is created and its email comes back normalised'
);
SELECT results_eq(
    $$ SELECT id, email, name, image, email_verified FROM users $$,
    $$
        VALUES (
            '103890241628354500674', 'jordan.lee@example.com', NULL::text, NULL::text,
            NULL::timestamptz
        )
    $$,
    'the stored user has the normalised email and no profile yet'
);

-- existing: the full row comes back on every later call, never zero rows.
SELECT results_eq(
    $$ SELECT * FROM ensure_user('103890241628354500674', 'jordan.lee@example.com') $$,
    $$ VALUES ('103890241628354500674', 'jordan.lee@example.com', 'existing') $$,
    'a second call returns the same user as existing'
);
SELECT results_eq(
    $$
        SELECT *
        FROM ensure_user(
            p_user_id => '103890241628354500674',
            p_email => 'JORDAN.LEE@EXAMPLE.COM',
            p_name => 'Jordan Lee',
            p_image => 'https://example.com/jordan.png'
        )
    $$,
    $$ VALUES ('103890241628354500674', 'jordan.lee@example.com', 'existing') $$,
    'a call with named parameters and a profile returns existing'
);
SELECT results_eq(
    $$ SELECT name, image FROM users WHERE id = '103890241628354500674' $$,
    $$ VALUES ('Jordan Lee', 'https://example.com/jordan.png') $$,
    'a later call fills in the missing name and image'
);
SELECT lives_ok(
    $$ SELECT * FROM ensure_user('103890241628354500674', 'jordan.lee@example.com', 'Other') $$,
    'a call with a different name lives'
);
SELECT is(
    (SELECT name FROM users WHERE id = '103890241628354500674'),
    'Jordan Lee',
    'a name already stored is not overwritten'
);
SELECT is((SELECT count(*) FROM users), 1::bigint, 'one user row after four calls');
SELECT is(
    (SELECT count(*) FROM audit_events WHERE action = 'user.created'),
    1::bigint,
    'one user.created audit row'
);

-- Ids are opaque text: leading zeros and 29 digits survive.
SELECT results_eq(
    $$ SELECT user_id, outcome FROM ensure_user('00123', 'zeros@example.com') $$,
    $$ VALUES ('00123', 'created') $$,
    'id 00123 stays 00123'
);
SELECT results_eq(
    $$
        SELECT user_id, outcome
        FROM ensure_user('10389024162835450067412345678', 'long.id@example.com')
    $$,
    $$ VALUES ('10389024162835450067412345678', 'created') $$,
    'a 29-digit id is stored as written'
);
SELECT results_eq(
    $$ SELECT user_id, outcome FROM ensure_user(repeat('9', 255), 'max.id@example.com') $$,
    $$ VALUES (repeat('9', 255), 'created') $$,
    'an id of 255 characters is accepted'
);

-- An empty name is no name.
SELECT results_eq(
    $$ SELECT outcome FROM ensure_user('no-name', 'no.name@example.com', p_name => '') $$,
    $$ VALUES ('created') $$,
    'a user with name '''' is created'
);
SELECT is(
    (SELECT name FROM users WHERE id = 'no-name'),
    NULL,
    'name '''' is stored as NULL'
);
SELECT results_eq(
    $$
        SELECT outcome
        FROM ensure_user('big-image', 'big.image@example.com', p_image => repeat('i', 1800))
    $$,
    $$ VALUES ('created') $$,
    'a user with an image URL of 1800 characters is created'
);
SELECT is(
    (SELECT char_length(image) FROM users WHERE id = 'big-image'),
    1800,
    'the 1800-character image is stored whole'
);

-- Another id with the same email: SD002 by default, first user untouched.
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('gh-4412', 'JORDAN.LEE@example.com') $$,
    'SD002',
    'email jordan.lee@example.com already belongs to another user',
    'another id with the same email raises SD002'
);
SELECT is(
    pg_temp.error_column($$ SELECT * FROM ensure_user('gh-4412', 'jordan.lee@example.com') $$),
    'SD002 email',
    'SD002 names email in COLUMN'
);
SELECT throws_ok(
    $$
        SELECT *
        FROM ensure_user('gh-4412', 'jordan.lee@example.com', p_email_verified => true)
    $$,
    'SD002',
    'email jordan.lee@example.com already belongs to another user',
    'a verified email alone does not link'
);
SELECT throws_ok(
    $$
        SELECT *
        FROM ensure_user('gh-4412', 'jordan.lee@example.com', p_link_verified_email => true)
    $$,
    'SD002',
    'email jordan.lee@example.com already belongs to another user',
    'linking an unverified email is refused'
);
SELECT is(
    (SELECT count(*) FROM users WHERE id = 'gh-4412'),
    0::bigint,
    'no user was created for the refused id'
);
SELECT is((SELECT count(*) FROM accounts), 0::bigint, 'no account was linked');

-- linked: only a verified email with linking allowed.
SELECT results_eq(
    $$
        SELECT *
        FROM ensure_user(
            p_user_id => 'gh-4412',
            p_email => 'Jordan.Lee@example.com',
            p_email_verified => true,
            p_provider => 'github',
            p_link_verified_email => true
        )
    $$,
    $$ VALUES ('103890241628354500674', 'jordan.lee@example.com', 'linked') $$,
    'a verified email with linking allowed links the new id to the owner'
);
SELECT results_eq(
    $$ SELECT provider, provider_account_id, user_id FROM accounts $$,
    $$ VALUES ('github', 'gh-4412', '103890241628354500674') $$,
    'the link is stored as an account of the owner'
);
SELECT results_eq(
    $$ SELECT * FROM ensure_user('gh-4412', 'jordan.lee@example.com') $$,
    $$ VALUES ('103890241628354500674', 'jordan.lee@example.com', 'existing') $$,
    'the linked id then resolves to its owner as existing'
);
SELECT results_eq(
    $$ SELECT * FROM ensure_user('gh-4412', 'jordan.lee@example.com', p_provider => 'github') $$,
    $$ VALUES ('103890241628354500674', 'jordan.lee@example.com', 'existing') $$,
    'the linked id resolves with its provider too'
);
SELECT ok(user_exists('gh-4412'), 'user_exists sees a linked id');
SELECT is(resolve_user_id('gh-4412'), '103890241628354500674', 'resolve_user_id follows the link');
SELECT is(
    resolve_user_id('103890241628354500674'),
    '103890241628354500674',
    'resolve_user_id returns a stored id as it is'
);
SELECT is(resolve_user_id('never-seen'), NULL, 'resolve_user_id is NULL for an unknown id');
SELECT ok(NOT user_exists('never-seen'), 'user_exists is false for an unknown id');
SELECT is(
    (SELECT count(*) FROM audit_events WHERE action = 'user.linked' AND object_id = 'gh-4412'),
    1::bigint,
    'one user.linked audit row'
);

-- SD001: malformed input, with the documented message and the field in COLUMN.
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('', 'jordan.lee@example.com') $$,
    'SD001', 'user_id is required and must not be empty', 'an empty id is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('   ', 'jordan.lee@example.com') $$,
    'SD001', 'user_id is required and must not be empty', 'a blank id is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user(NULL, 'jordan.lee@example.com') $$,
    'SD001', 'user_id is required and must not be empty', 'a NULL id is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user(repeat('1', 256), 'id.256@example.com') $$,
    'SD001', 'user_id must be at most 255 characters, got 256', 'an id of 256 characters is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user(E'abc\x01def', 'ctl@example.com') $$,
    'SD001', 'user_id must not contain control characters', 'a control character in the id'
);
SELECT is(
    pg_temp.error_column($$ SELECT * FROM ensure_user(E'abc\ndef', 'ctl@example.com') $$),
    'SD001 user_id',
    'SD001 for the id names user_id in COLUMN'
);
SELECT is(
    pg_temp.error_hint($$ SELECT * FROM ensure_user(E'abc\ndef', 'ctl@example.com') $$),
    'Correct p_user_id and call again; nothing was written.',
    'SD001 hints at the parameter to correct'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', '') $$,
    'SD001', 'email is required and must not be empty', 'an empty email is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', E' \t ') $$,
    'SD001', 'email is required and must not be empty', 'a whitespace-only email is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', 'Jordan') $$,
    'SD001', 'email must be an address of the form name@domain, got ''jordan''',
    'an email without @ is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', 'a@b@example.com') $$,
    'SD001', 'email must be an address of the form name@domain, got ''a@b@example.com''',
    'an email with two @ is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', 'jordan lee@example.com') $$,
    'SD001', 'email must be an address of the form name@domain, got ''jordan lee@example.com''',
    'an email with inner whitespace is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', '@example.com') $$,
    'SD001', 'email must be an address of the form name@domain, got ''@example.com''',
    'an email without a local part is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', 'jordan@') $$,
    'SD001', 'email must be an address of the form name@domain, got ''jordan@''',
    'an email without a domain is SD001'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', repeat('a', 243) || '@example.com') $$,
    'SD001', 'email must be at most 254 characters, got 255', 'an email of 255 characters'
);
SELECT is(
    pg_temp.error_column($$ SELECT * FROM ensure_user('new-1', 'nope') $$),
    'SD001 email',
    'SD001 for the email names email in COLUMN'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', 'new.1@example.com', repeat('n', 257)) $$,
    'SD001', 'name must be at most 256 characters, got 257', 'a name of 257 characters'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', 'new.1@example.com', E'Test\tUser') $$,
    'SD001', 'name must not contain control characters', 'a tab in the name is SD001'
);
SELECT is(
    pg_temp.error_column(
        $$ SELECT * FROM ensure_user('new-1', 'new.1@example.com', repeat('n', 257)) $$),
    'SD001 name',
    'SD001 for the name names name in COLUMN'
);
SELECT throws_ok(
    $$
        SELECT *
        FROM ensure_user('new-1', 'new.1@example.com', p_image => repeat('i', 2049))
    $$,
    'SD001', 'image must be at most 2048 characters, got 2049', 'an image of 2049 characters'
);
SELECT is(
    pg_temp.error_column($$
        SELECT * FROM ensure_user('new-1', 'new.1@example.com', p_image => repeat('i', 2049))
    $$),
    'SD001 image',
    'SD001 for the image names image in COLUMN'
);
SELECT throws_ok(
    $$ SELECT * FROM ensure_user('new-1', 'new.1@example.com', p_provider => repeat('p', 65)) $$,
    'SD001', 'provider must be at most 64 characters, got 65', 'a provider of 65 characters'
);
SELECT is(
    (SELECT count(*) FROM users WHERE id IN ('new-1', '', repeat('1', 256))),
    0::bigint,
    'no rejected input left a user behind'
);

SELECT * FROM finish();
ROLLBACK;
