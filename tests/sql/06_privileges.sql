-- Who may do what. The service's role secretsdb_app calls the API and reads the columns the
-- service lists; it writes no table directly and never sees a share, IV, auth tag or password.
-- PostgreSQL grants EXECUTE on new routines to PUBLIC, so every routine of ours must have
-- taken that back, and every routine pins its search_path so callers' schemas cannot
-- redirect it.
BEGIN;
SET LOCAL search_path = public, tap;

SELECT plan(49);

-- Routines of ours: everything in public that no extension installed.
CREATE TEMP VIEW our_routines AS
SELECT p.oid, p.oid::regprocedure::text AS signature, p.proname, p.proconfig, p.proacl, p.proowner
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
    AND NOT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_catalog.pg_proc'::regclass
            AND d.objid = p.oid
            AND d.deptype = 'e'
    );

SELECT cmp_ok(
    (SELECT count(*) FROM our_routines),
    '>=',
    15::bigint,
    'the API routines and their helpers are found in public'
);

-- EXECUTE: the API to secretsdb_app, nothing to PUBLIC.
SELECT function_privs_are(
    'public', 'ensure_user', ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'boolean'],
    'secretsdb_app', ARRAY['EXECUTE'],
    'secretsdb_app may execute ensure_user'
);
SELECT function_privs_are(
    'public', 'user_exists', ARRAY['text'], 'secretsdb_app', ARRAY['EXECUTE'],
    'secretsdb_app may execute user_exists'
);
SELECT function_privs_are(
    'public', 'create_secret',
    ARRAY[
        'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'integer', 'text',
        'text', 'integer', 'integer', 'text', 'text', 'boolean', 'text', 'boolean', 'uuid',
        'text', 'text', 'timestamp with time zone'
    ],
    'secretsdb_app', ARRAY['EXECUTE'],
    'secretsdb_app may execute create_secret'
);
SELECT function_privs_are(
    'public', 'record_check_in',
    ARRAY[
        'text', 'text', 'text', 'text', 'text', 'boolean', 'text', 'boolean', 'text', 'text',
        'timestamp with time zone', 'timestamp with time zone'
    ],
    'secretsdb_app', ARRAY['EXECUTE'],
    'secretsdb_app may execute record_check_in'
);

SELECT ok(
    NOT EXISTS (
        SELECT 1
        FROM our_routines r,
            aclexplode(coalesce(r.proacl, acldefault('f', r.proowner))) a
        WHERE r.proname = 'ensure_user' AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
    ),
    'PUBLIC may not execute ensure_user'
);
SELECT ok(
    NOT EXISTS (
        SELECT 1
        FROM our_routines r,
            aclexplode(coalesce(r.proacl, acldefault('f', r.proowner))) a
        WHERE r.proname = 'create_secret' AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
    ),
    'PUBLIC may not execute create_secret'
);
SELECT ok(
    NOT EXISTS (
        SELECT 1
        FROM our_routines r,
            aclexplode(coalesce(r.proacl, acldefault('f', r.proowner))) a
        WHERE r.proname = 'record_check_in' AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
    ),
    'PUBLIC may not execute record_check_in'
);
SELECT is_empty(
    $$
        SELECT r.signature
        FROM our_routines r,
            aclexplode(coalesce(r.proacl, acldefault('f', r.proowner))) a
        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'
    $$,
    'no routine of ours is executable by PUBLIC'
);
SELECT set_eq(
    $$
        SELECT r.proname::text COLLATE "default"
        FROM our_routines r
        WHERE pg_catalog.has_function_privilege('secretsdb_app', r.oid, 'EXECUTE')
    $$,
    ARRAY[
        'ensure_user', 'user_exists', 'resolve_user_id', 'schema_version', 'create_secret',
        'record_check_in'
    ],
    'secretsdb_app may execute the API and no helper or trigger function'
);
SELECT function_privs_are(
    'public', 'secretsdb_next_check_in', ARRAY['timestamp with time zone', 'integer'],
    'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app may not execute secretsdb_next_check_in'
);
SELECT function_privs_are(
    'public', 'secretsdb_invalid_input', ARRAY['text', 'text'],
    'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app may not execute secretsdb_invalid_input'
);

-- Every routine pins its search_path.
SELECT is_empty(
    $$
        SELECT r.signature
        FROM our_routines r
        WHERE NOT EXISTS (
            SELECT 1 FROM unnest(r.proconfig) c WHERE c LIKE 'search_path=%'
        )
    $$,
    'every routine of ours has a search_path in proconfig'
);
SELECT is_empty(
    $$
        SELECT r.signature
        FROM our_routines r
        WHERE NOT coalesce(r.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']
    $$,
    'every routine of ours pins search_path to pg_catalog, pg_temp'
);
SELECT is(
    (SELECT proconfig FROM our_routines WHERE proname = 'create_secret'),
    ARRAY['search_path=pg_catalog, pg_temp'],
    'create_secret runs with search_path pg_catalog, pg_temp'
);

-- Tables: no write privilege at all, SELECT on checkin_history only at table level.
SELECT table_privs_are(
    'public', 'users', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app has no table-level privilege on users'
);
SELECT table_privs_are(
    'public', 'accounts', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app has no privilege on accounts'
);
SELECT table_privs_are(
    'public', 'secrets', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app has no table-level privilege on secrets'
);
SELECT table_privs_are(
    'public', 'checkin_history', 'secretsdb_app', ARRAY['SELECT'],
    'secretsdb_app may only read checkin_history'
);
SELECT table_privs_are(
    'public', 'audit_events', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app has no privilege on audit_events'
);
SELECT is_empty(
    $$
        SELECT c.relname
        FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'public'::regnamespace
            AND c.relkind IN ('r', 'p', 'v', 'm')
            AND (
                pg_catalog.has_table_privilege('secretsdb_app', c.oid,
                    'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                OR pg_catalog.has_any_column_privilege('secretsdb_app', c.oid,
                    'INSERT, UPDATE, REFERENCES')
            )
    $$,
    'secretsdb_app can write no table or column in public'
);
SELECT ok(
    NOT pg_catalog.has_schema_privilege('secretsdb_app', 'public', 'CREATE'),
    'secretsdb_app may not create objects in public'
);

-- Columns: the service's columns readable, secrets never.
SELECT column_privs_are(
    'public', 'secrets', 'server_share', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app may not read secrets.server_share'
);
SELECT column_privs_are(
    'public', 'secrets', 'iv', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app may not read secrets.iv'
);
SELECT column_privs_are(
    'public', 'secrets', 'auth_tag', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app may not read secrets.auth_tag'
);
SELECT column_privs_are(
    'public', 'users', 'password', 'secretsdb_app', ARRAY[]::text[],
    'secretsdb_app may not read users.password'
);
SELECT column_privs_are(
    'public', 'secrets', 'title', 'secretsdb_app', ARRAY['SELECT'],
    'secretsdb_app may read secrets.title and nothing more'
);
SELECT column_privs_are(
    'public', 'secrets', 'next_check_in', 'secretsdb_app', ARRAY['SELECT'],
    'secretsdb_app may read secrets.next_check_in and nothing more'
);
SELECT set_eq(
    $$
        SELECT a.attname::text COLLATE "default"
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = 'public.secrets'::regclass
            AND a.attnum > 0
            AND NOT a.attisdropped
            AND pg_catalog.has_column_privilege('secretsdb_app', a.attrelid, a.attnum, 'SELECT')
    $$,
    ARRAY[
        'id', 'user_id', 'title', 'recipient_name', 'recipient_email', 'recipient_phone',
        'contact_method', 'check_in_days', 'status', 'sss_shares_total', 'sss_threshold',
        'last_check_in', 'next_check_in', 'triggered_at', 'created_at', 'updated_at'
    ],
    'secretsdb_app reads exactly the listed columns of secrets'
);
SELECT set_eq(
    $$
        SELECT a.attname::text COLLATE "default"
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = 'public.users'::regclass
            AND a.attnum > 0
            AND NOT a.attisdropped
            AND pg_catalog.has_column_privilege('secretsdb_app', a.attrelid, a.attnum, 'SELECT')
    $$,
    ARRAY['id', 'email', 'email_verified', 'name', 'image', 'created_at', 'updated_at'],
    'secretsdb_app reads exactly the listed columns of users'
);

-- The same rules, felt by a session running as secretsdb_app. pgTAP's schema is opened to
-- the role for this transaction only.
SELECT max(version_id) AS goose_version FROM goose_db_version \gset
GRANT USAGE ON SCHEMA tap TO secretsdb_app;
SET LOCAL ROLE secretsdb_app;

SELECT is(current_user::text, 'secretsdb_app', 'the session now runs as secretsdb_app');
SELECT lives_ok(
    $$
        CALL create_secret(p_user_id => 'app-user', p_email => 'app.user@example.com',
            p_title => 'Through the app role', p_recipient_name => 'r',
            p_recipient_email => 'r@example.com', p_server_share => 's')
    $$,
    'secretsdb_app can CALL create_secret'
);
SELECT results_eq(
    $$ SELECT user_id, outcome FROM ensure_user('app-user', 'app.user@example.com') $$,
    $$ VALUES ('app-user', 'existing') $$,
    'secretsdb_app can call ensure_user'
);
SELECT ok(user_exists('app-user'), 'secretsdb_app can call user_exists');
SELECT is(resolve_user_id('app-user'), 'app-user', 'secretsdb_app can call resolve_user_id');
SELECT is(
    schema_version(),
    :'goose_version'::bigint,
    'secretsdb_app reads the schema version through schema_version'
);
SELECT results_eq(
    $$ SELECT title, status::text FROM secrets WHERE user_id = 'app-user' $$,
    $$ VALUES ('Through the app role', 'active') $$,
    'secretsdb_app reads the listed columns of its secrets'
);
SELECT id AS app_secret_id FROM secrets WHERE user_id = 'app-user' \gset
SELECT lives_ok(
    format(
        $$
            CALL record_check_in(p_user_id => 'app-user', p_email => 'app.user@example.com',
                p_secret_id => %L)
        $$,
        :'app_secret_id'
    ),
    'secretsdb_app can CALL record_check_in'
);
SELECT is(
    (SELECT count(*) FROM checkin_history WHERE user_id = 'app-user'),
    1::bigint,
    'secretsdb_app reads the check-in history'
);
SELECT throws_ok(
    $$ SELECT server_share FROM secrets $$,
    '42501', 'permission denied for table secrets',
    'secretsdb_app cannot read server_share'
);
SELECT throws_ok(
    $$ SELECT * FROM secrets $$,
    '42501', 'permission denied for table secrets',
    'secretsdb_app cannot SELECT * from secrets'
);
SELECT throws_ok(
    $$ SELECT password FROM users $$,
    '42501', 'permission denied for table users',
    'secretsdb_app cannot read users.password'
);
SELECT throws_ok(
    $$ INSERT INTO users (id, email) VALUES ('direct', 'direct@example.com') $$,
    '42501', 'permission denied for table users',
    'secretsdb_app cannot insert users directly'
);
SELECT throws_ok(
    $$ UPDATE secrets SET status = 'paused' WHERE user_id = 'app-user' $$,
    '42501', 'permission denied for table secrets',
    'secretsdb_app cannot update secrets directly'
);
SELECT throws_ok(
    $$ DELETE FROM checkin_history WHERE user_id = 'app-user' $$,
    '42501', 'permission denied for table checkin_history',
    'secretsdb_app cannot delete history'
);
SELECT throws_ok(
    $$ SELECT max(version_id) FROM goose_db_version $$,
    '42501', 'permission denied for table goose_db_version',
    'secretsdb_app cannot read the migration table directly'
);
SELECT throws_ok(
    $$ SELECT count(*) FROM audit_events $$,
    '42501', 'permission denied for table audit_events',
    'secretsdb_app cannot read the audit trail'
);
SELECT throws_ok(
    $$ SELECT public.secretsdb_next_check_in(now(), 2) $$,
    '42501', 'permission denied for function secretsdb_next_check_in',
    'secretsdb_app cannot call an internal helper'
);

RESET ROLE;

SELECT is(
    (SELECT count(*) FROM secrets WHERE user_id = 'app-user' AND status = 'active'),
    1::bigint,
    'the refused writes changed nothing'
);

SELECT * FROM finish();
ROLLBACK;
