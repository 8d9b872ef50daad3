-- The schema the SQL API and hand-written queries rely on: tables, key columns, named
-- constraints (errors quote these names, so renaming one is a breaking change), enums and
-- the indexes of the two hot queries.
BEGIN;
SET LOCAL search_path = public, tap;

SELECT plan(71);

SELECT tables_are(
    'public',
    ARRAY[
        'users', 'accounts', 'secrets', 'checkin_history', 'audit_events',
        'goose_db_version', 'secretsdb_migration_checksums'
    ],
    'public holds the product tables and the migration bookkeeping tables, nothing else'
);

-- users: ids are opaque text, never numbers (Google subjects exceed bigint).
SELECT col_is_pk('public', 'users', 'id', 'users.id is the primary key');
SELECT col_type_is('public', 'users', 'id', 'text', 'users.id is text');
SELECT col_not_null('public', 'users', 'email', 'users.email is NOT NULL');
SELECT col_is_unique('public', 'users', 'email', 'users.email is unique');
SELECT col_is_null('public', 'users', 'name', 'users.name is optional');
SELECT col_is_null('public', 'users', 'image', 'users.image is optional');
SELECT col_type_is(
    'public', 'users', 'email_verified', 'timestamp with time zone',
    'users.email_verified is a timestamptz'
);

SELECT col_is_pk(
    'public', 'accounts', ARRAY['provider', 'provider_account_id'],
    'accounts are keyed by provider and provider_account_id'
);
SELECT fk_ok('public', 'accounts', 'user_id', 'public', 'users', 'id');

-- secrets
SELECT col_is_pk('public', 'secrets', 'id', 'secrets.id is the primary key');
SELECT col_type_is('public', 'secrets', 'id', 'uuid', 'secrets.id is a uuid');
SELECT col_type_is('public', 'secrets', 'user_id', 'text', 'secrets.user_id is text');
SELECT col_not_null('public', 'secrets', 'user_id', 'secrets.user_id is NOT NULL');
SELECT col_not_null('public', 'secrets', 'server_share', 'secrets.server_share is NOT NULL');
SELECT col_not_null('public', 'secrets', 'check_in_days', 'secrets.check_in_days is NOT NULL');
SELECT col_not_null('public', 'secrets', 'status', 'secrets.status is NOT NULL');
SELECT col_not_null('public', 'secrets', 'contact_method', 'secrets.contact_method is NOT NULL');
SELECT col_type_is(
    'public', 'secrets', 'status', 'secret_status', 'secrets.status is a secret_status'
);
SELECT col_default_is('public', 'secrets', 'status', 'active', 'a new secret is active');
SELECT col_type_is(
    'public', 'secrets', 'contact_method', 'contact_method',
    'secrets.contact_method is a contact_method'
);
SELECT col_default_is(
    'public', 'secrets', 'contact_method', 'email', 'contact_method defaults to email'
);
SELECT col_default_is('public', 'secrets', 'check_in_days', 30, 'check_in_days defaults to 30');
SELECT col_type_is(
    'public', 'secrets', 'next_check_in', 'timestamp with time zone',
    'secrets.next_check_in is a timestamptz'
);
SELECT col_type_is(
    'public', 'secrets', 'created_at', 'timestamp with time zone',
    'secrets.created_at is a timestamptz'
);
SELECT fk_ok('public', 'secrets', 'user_id', 'public', 'users', 'id');

-- checkin_history
SELECT col_not_null(
    'public', 'checkin_history', 'secret_id', 'checkin_history.secret_id is NOT NULL'
);
SELECT col_not_null('public', 'checkin_history', 'user_id', 'checkin_history.user_id is NOT NULL');
SELECT col_not_null(
    'public', 'checkin_history', 'checked_in_at', 'checkin_history.checked_in_at is NOT NULL'
);
SELECT col_not_null(
    'public', 'checkin_history', 'next_check_in', 'checkin_history.next_check_in is NOT NULL'
);
SELECT fk_ok('public', 'checkin_history', 'secret_id', 'public', 'secrets', 'id');
SELECT fk_ok('public', 'checkin_history', 'user_id', 'public', 'users', 'id');

-- audit_events outlives users, so it has no foreign key to them.
SELECT hasnt_fk('public', 'audit_events', 'audit_events references no other table');
SELECT col_not_null('public', 'audit_events', 'action', 'audit_events.action is NOT NULL');

-- Named constraints: their names appear in error messages and in the docs.
SELECT bag_has(
    $$
        SELECT c.conrelid::regclass::text, c.conname::text
        FROM pg_catalog.pg_constraint c
        WHERE c.connamespace = 'public'::regnamespace
    $$,
    $$
        VALUES
            ('users', 'users_pkey'),
            ('users', 'users_email_key'),
            ('users', 'users_id_length'),
            ('users', 'users_id_no_control'),
            ('users', 'users_email_normalised'),
            ('users', 'users_email_format'),
            ('users', 'users_name_length'),
            ('users', 'users_image_length'),
            ('accounts', 'accounts_pkey'),
            ('accounts', 'accounts_user_id_users_id_fk'),
            ('secrets', 'secrets_pkey'),
            ('secrets', 'secrets_user_id_users_id_fk'),
            ('secrets', 'secrets_check_in_days_range'),
            ('secrets', 'secrets_sss_range'),
            ('secrets', 'secrets_contact_method_recipient'),
            ('secrets', 'secrets_server_share_length'),
            ('secrets', 'secrets_title_length'),
            ('secrets', 'secrets_triggered_at_status'),
            ('checkin_history', 'checkin_history_pkey'),
            ('checkin_history', 'checkin_history_secret_id_secrets_id_fk'),
            ('checkin_history', 'checkin_history_user_id_users_id_fk'),
            ('checkin_history', 'checkin_history_next_after_checked_in'),
            ('audit_events', 'audit_events_pkey')
    $$,
    'every documented constraint exists on its table under its documented name'
);

SELECT results_eq(
    $$
        SELECT pg_catalog.pg_get_constraintdef(c.oid)
        FROM pg_catalog.pg_constraint c
        WHERE c.conname = 'secrets_user_id_users_id_fk'
    $$,
    $$ VALUES ('FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE') $$,
    'secrets_user_id_users_id_fk references users(id) and cascades deletes'
);

SELECT results_eq(
    $$
        SELECT pg_catalog.pg_get_constraintdef(c.oid)
        FROM pg_catalog.pg_constraint c
        WHERE c.conname = 'secrets_check_in_days_range'
    $$,
    $$ VALUES ('CHECK (((check_in_days >= 2) AND (check_in_days <= 3650)))') $$,
    'secrets_check_in_days_range allows 2..3650 days'
);

-- Enums
SELECT has_enum('public', 'contact_method', 'enum contact_method exists');
SELECT enum_has_labels(
    'public', 'contact_method', ARRAY['email', 'phone', 'both'],
    'contact_method is email, phone, both in that order'
);
SELECT has_enum('public', 'secret_status', 'enum secret_status exists');
SELECT enum_has_labels(
    'public', 'secret_status', ARRAY['active', 'paused', 'triggered'],
    'secret_status is active, paused, triggered in that order'
);

-- Indexes of "my secrets" and of the due scan.
SELECT has_index(
    'public', 'secrets', 'secrets_user_id_status_idx', ARRAY['user_id', 'status'],
    'secrets_user_id_status_idx covers (user_id, status)'
);
SELECT has_index(
    'public', 'secrets', 'secrets_next_check_in_active_idx', ARRAY['next_check_in'],
    'secrets_next_check_in_active_idx covers next_check_in'
);
SELECT is(
    (
        SELECT pg_catalog.pg_get_expr(i.indpred, i.indrelid)
        FROM pg_catalog.pg_index i
        WHERE i.indexrelid = 'public.secrets_next_check_in_active_idx'::regclass
    ),
    '(status = ''active''::secret_status)',
    'secrets_next_check_in_active_idx is partial: active secrets only'
);
SELECT has_index(
    'public', 'checkin_history', 'checkin_history_secret_id_idx',
    ARRAY['secret_id', 'checked_in_at'], 'checkin_history_secret_id_idx exists'
);
SELECT has_index(
    'public', 'accounts', 'accounts_provider_account_id_idx', ARRAY['provider_account_id'],
    'accounts_provider_account_id_idx serves lookups without a provider'
);

-- Routines of the SQL API, with their kinds and result types.
SELECT has_function(
    'public', 'ensure_user',
    ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'boolean'],
    'ensure_user(p_user_id, p_email, p_name, p_image, p_email_verified, p_provider, '
        'p_link_verified_email) exists'
);
SELECT isnt_procedure('public', 'ensure_user', 'ensure_user is a function');
SELECT function_returns(
    'public', 'ensure_user',
    ARRAY['text', 'text', 'text', 'text', 'boolean', 'text', 'boolean'],
    'record', 'ensure_user returns a record (user_id, email, outcome)'
);
SELECT is(
    pg_catalog.pg_get_function_arguments(
        'public.ensure_user(text, text, text, text, boolean, text, boolean)'::regprocedure),
    'p_user_id text, p_email text, p_name text DEFAULT NULL::text, '
        'p_image text DEFAULT NULL::text, p_email_verified boolean DEFAULT false, '
        'p_provider text DEFAULT NULL::text, p_link_verified_email boolean DEFAULT false, '
        'OUT user_id text, OUT email text, OUT outcome text',
    'ensure_user takes the documented named parameters and returns user_id, email, outcome'
);
SELECT has_function('public', 'user_exists', ARRAY['text'], 'user_exists(p_user_id) exists');
SELECT function_returns(
    'public', 'user_exists', ARRAY['text'], 'boolean', 'user_exists returns boolean'
);
SELECT has_function(
    'public', 'resolve_user_id', ARRAY['text'], 'resolve_user_id(p_user_id) exists'
);
SELECT function_returns(
    'public', 'resolve_user_id', ARRAY['text'], 'text', 'resolve_user_id returns text'
);
SELECT function_returns(
    'public', 'schema_version', ARRAY[]::name[], 'bigint', 'schema_version() returns bigint'
);
SELECT has_function(
    'public', 'create_secret',
    ARRAY[
        'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'integer', 'text',
        'text', 'integer', 'integer', 'text', 'text', 'boolean', 'text', 'boolean', 'uuid',
        'text', 'text', 'timestamp with time zone'
    ],
    'create_secret exists with its documented signature'
);
SELECT is_procedure('public', 'create_secret', 'create_secret is a procedure, called with CALL');
SELECT has_function(
    'public', 'record_check_in',
    ARRAY[
        'text', 'text', 'text', 'text', 'text', 'boolean', 'text', 'boolean', 'text', 'text',
        'timestamp with time zone', 'timestamp with time zone'
    ],
    'record_check_in exists with its documented signature'
);
SELECT is_procedure(
    'public', 'record_check_in', 'record_check_in is a procedure, called with CALL'
);
SELECT is(
    pg_catalog.pg_get_function_arguments('public.create_secret'::regproc),
    'IN p_user_id text, IN p_email text, IN p_title text, IN p_recipient_name text, '
        'IN p_server_share text, IN p_recipient_email text DEFAULT NULL::text, '
        'IN p_recipient_phone text DEFAULT NULL::text, '
        'IN p_contact_method text DEFAULT ''email''::text, '
        'IN p_check_in_days integer DEFAULT 30, IN p_iv text DEFAULT NULL::text, '
        'IN p_auth_tag text DEFAULT NULL::text, IN p_sss_shares_total integer DEFAULT 3, '
        'IN p_sss_threshold integer DEFAULT 2, IN p_name text DEFAULT NULL::text, '
        'IN p_image text DEFAULT NULL::text, IN p_email_verified boolean DEFAULT false, '
        'IN p_provider text DEFAULT NULL::text, IN p_link_verified_email boolean DEFAULT false, '
        'INOUT secret_id uuid DEFAULT NULL::uuid, INOUT user_id text DEFAULT NULL::text, '
        'INOUT outcome text DEFAULT NULL::text, '
        'INOUT next_check_in timestamp with time zone DEFAULT NULL::timestamp with time zone',
    'create_secret takes the documented named parameters and defaults'
);
SELECT is(
    pg_catalog.pg_get_function_arguments('public.record_check_in'::regproc),
    'IN p_user_id text, IN p_email text, IN p_secret_id text, IN p_name text DEFAULT NULL::text, '
        'IN p_image text DEFAULT NULL::text, IN p_email_verified boolean DEFAULT false, '
        'IN p_provider text DEFAULT NULL::text, IN p_link_verified_email boolean DEFAULT false, '
        'INOUT user_id text DEFAULT NULL::text, INOUT outcome text DEFAULT NULL::text, '
        'INOUT checked_in_at timestamp with time zone '
        'DEFAULT NULL::timestamp with time zone, '
        'INOUT next_check_in timestamp with time zone DEFAULT NULL::timestamp with time zone',
    'record_check_in takes the documented named parameters and defaults'
);
SELECT is_definer('public', 'ensure_user', 'ensure_user runs as its owner');
SELECT is_definer('public', 'create_secret', 'create_secret runs as its owner');
SELECT is_definer('public', 'record_check_in', 'record_check_in runs as its owner');
SELECT is_definer('public', 'user_exists', 'user_exists runs as its owner');

-- Hand-written rows meet the same named rules as the API.
INSERT INTO users (id, email) VALUES ('schema-owner', 'owner@example.com');

SELECT throws_ok(
    $$
        INSERT INTO secrets (user_id, title, recipient_name, recipient_email, server_share,
            check_in_days)
        VALUES ('schema-owner', 't', 'r', 'r@example.com', 's', 1)
    $$,
    '23514',
    'new row for relation "secrets" violates check constraint "secrets_check_in_days_range"',
    'a hand-written secret with 1 check-in day breaks secrets_check_in_days_range'
);
SELECT throws_ok(
    $$
        INSERT INTO secrets (user_id, title, recipient_name, recipient_email, server_share)
        VALUES ('never-stored', 't', 'r', 'r@example.com', 's')
    $$,
    '23503',
    'insert or update on table "secrets" violates foreign key constraint '
        '"secrets_user_id_users_id_fk"',
    'a hand-written secret of an unknown user breaks secrets_user_id_users_id_fk'
);
SELECT throws_ok(
    $$
        INSERT INTO secrets (user_id, title, recipient_name, contact_method, server_share)
        VALUES ('schema-owner', 't', 'r', 'phone', 's')
    $$,
    '23514',
    'new row for relation "secrets" violates check constraint '
        '"secrets_contact_method_recipient"',
    'a hand-written phone secret without a phone breaks secrets_contact_method_recipient'
);
SELECT throws_ok(
    $$ UPDATE audit_events SET action = 'user.renamed' $$,
    'SD005',
    'audit_events is append-only: UPDATE is not allowed',
    'audit rows cannot be updated'
);
SELECT throws_ok(
    $$ DELETE FROM audit_events $$,
    'SD005',
    'audit_events is append-only: DELETE is not allowed',
    'audit rows cannot be deleted'
);
SELECT results_eq(
    $$ SELECT email FROM users WHERE id = 'schema-owner' $$,
    $$ VALUES ('owner@example.com') $$,
    'the hand-written user is stored'
);

SELECT * FROM finish();
ROLLBACK;
