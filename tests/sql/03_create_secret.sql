-- create_secret called with CALL and named notation, exactly as the docs show it: the first
-- secret of a session whose user was never stored creates the user and the secret in one
-- call (the input that used to fail on secrets_user_id_users_id_fk), and every rejected
-- call leaves nothing behind.
BEGIN;
SET LOCAL search_path = public, tap;

SELECT plan(37);

SELECT is((SELECT count(*) FROM users), 0::bigint, 'the database starts without users');

CALL create_secret(
    p_user_id => '103890241628354500674',
    p_email => 'jordan.lee@example.com',
    p_title => 'Safe deposit box',
    p_recipient_name => 'Sam Rivera',
    p_recipient_email => 'sam.rivera@example.org',
    p_server_share => 'c2VydmVyLXNoYXJlLTE='
) \gset first_

SELECT is(:'first_user_id'::text, '103890241628354500674', 'CALL returns the session user id');
SELECT is(:'first_outcome'::text, 'created', 'CALL reports the user as created');
SELECT isnt(:'first_secret_id'::text, NULL, 'CALL returns the new secret id');
SELECT results_eq(
    $$ SELECT id, email FROM users $$,
    $$ VALUES ('103890241628354500674', 'jordan.lee@example.com') $$,
    'the user was stored by the same call'
);
SELECT results_eq(
    format(
        $$
            SELECT user_id, title, recipient_name, recipient_email, contact_method::text,
                check_in_days, status::text, server_share, sss_shares_total, sss_threshold
            FROM secrets
            WHERE id = %L
        $$,
        :'first_secret_id'
    ),
    $$
        VALUES (
            '103890241628354500674', 'Safe deposit box', 'Sam Rivera',
            'sam.rivera@example.org', 'email', 30, 'active', 'c2VydmVyLXNoYXJlLTE=', 3, 2
        )
    $$,
    'the secret is stored with the documented defaults'
);
SELECT is(
    (SELECT next_check_in - created_at FROM secrets WHERE id = :'first_secret_id'),
    interval '720 hours',
    'next_check_in is 30 x 24 hours after creation'
);
SELECT is(
    :'first_next_check_in'::timestamptz,
    (SELECT next_check_in FROM secrets WHERE id = :'first_secret_id'),
    'CALL returns the stored next_check_in'
);
SELECT results_eq(
    $$ SELECT action, user_id FROM audit_events ORDER BY id $$,
    $$
        VALUES
            ('user.created', '103890241628354500674'),
            ('secret.created', '103890241628354500674')
    $$,
    'the call audited the user and the secret'
);

-- A second secret of the same session finds the user.
CALL create_secret(
    p_user_id => '103890241628354500674',
    p_email => '  Jordan.Lee@Example.COM ',
    p_title => 'Will',
    p_recipient_name => 'Alex Kim',
    p_server_share => 'c2VydmVyLXNoYXJlLTI=',
    p_recipient_email => ' Alex.Kim@Example.NET',
    p_recipient_phone => '+1 (555) 010-2030',
    p_contact_method => 'both',
    p_check_in_days => 7,
    p_sss_shares_total => 5,
    p_sss_threshold => 3,
    p_iv => 'aXY=',
    p_auth_tag => 'dGFn'
) \gset second_

SELECT is(:'second_outcome'::text, 'existing', 'a second secret finds the user as existing');
SELECT is((SELECT count(*) FROM users), 1::bigint, 'still one user');
SELECT is((SELECT count(*) FROM secrets), 2::bigint, 'two secrets');
SELECT results_eq(
    format(
        $$
            SELECT recipient_email, recipient_phone, contact_method::text, check_in_days,
                sss_shares_total, sss_threshold, next_check_in - created_at
            FROM secrets
            WHERE id = %L
        $$,
        :'second_secret_id'
    ),
    $$
        VALUES (
            'alex.kim@example.net', '+1 (555) 010-2030', 'both', 7, 5, 3, interval '168 hours'
        )
    $$,
    'the recipient email is normalised and next_check_in is 7 x 24 hours away'
);

-- Rejected calls: SD001 with the documented message, and nothing written.
CREATE TEMP TABLE counts_before ON COMMIT DROP AS
SELECT
    (SELECT count(*) FROM users) AS users,
    (SELECT count(*) FROM secrets) AS secrets,
    (SELECT count(*) FROM audit_events) AS audit_events;

SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_check_in_days => 1)
    $$,
    'SD001', 'check_in_days must be 2..3650, got 1', 'check_in_days 1 is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_check_in_days => 3651)
    $$,
    'SD001', 'check_in_days must be 2..3650, got 3651', 'check_in_days 3651 is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_check_in_days => NULL)
    $$,
    'SD001', 'check_in_days must be 2..3650, got NULL', 'check_in_days NULL is SD001'
);
SELECT lives_ok(
    $$
        CALL create_secret(p_user_id => 'edge-user', p_email => 'edge.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_check_in_days => 3650)
    $$,
    'check_in_days 3650 is accepted'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_sss_shares_total => 3, p_sss_threshold => 4)
    $$,
    'SD001', 'sss_threshold must be 2..sss_shares_total (3), got 4',
    'a threshold over the total is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_sss_threshold => 1)
    $$,
    'SD001', 'sss_threshold must be 2..sss_shares_total (3), got 1',
    'a threshold of 1 is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_sss_shares_total => 11, p_sss_threshold => 2)
    $$,
    'SD001', 'sss_shares_total must be 2..10, got 11', 'eleven shares is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_server_share => 's')
    $$,
    'SD001', 'recipient_email is required when contact_method is email',
    'the default contact method without a recipient email is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_contact_method => 'phone')
    $$,
    'SD001', 'recipient_phone is required when contact_method is phone',
    'contact method phone without a phone is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_contact_method => 'both')
    $$,
    'SD001', 'recipient_phone is required when contact_method is both',
    'contact method both without a phone is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_phone => '+15550102030',
            p_server_share => 's', p_contact_method => 'both')
    $$,
    'SD001', 'recipient_email is required when contact_method is both',
    'contact method both without an email is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's', p_contact_method => 'fax')
    $$,
    'SD001', 'contact_method must be one of email, phone, both, got ''fax''',
    'an unknown contact method is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => '  ', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's')
    $$,
    'SD001', 'title is required and must not be empty', 'a blank title is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => '')
    $$,
    'SD001', 'server_share is required and must not be empty', 'an empty share is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'not-an-address',
            p_server_share => 's')
    $$,
    'SD001',
    'recipient_email must be an address of the form name@domain, got ''not-an-address''',
    'a malformed recipient email is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'new-user', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_phone => 'call me',
            p_contact_method => 'phone', p_server_share => 's')
    $$,
    'SD001',
    'recipient_phone must be digits with an optional leading +, got ''call me''',
    'a phone that is not digits is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => '', p_email => 'new.user@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's')
    $$,
    'SD001', 'user_id is required and must not be empty', 'an empty session id is SD001'
);
SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'gh-4412', p_email => 'JORDAN.LEE@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's')
    $$,
    'SD002', 'email jordan.lee@example.com already belongs to another user',
    'a secret for another id with a taken email is SD002'
);

SELECT results_eq(
    $$
        SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM secrets),
            (SELECT count(*) FROM audit_events)
    $$,
    $$ SELECT users + 1, secrets + 1, audit_events + 2 FROM counts_before $$,
    'only the accepted 3650-day call wrote rows; every rejected call wrote nothing'
);

-- A DBA's trigger that fails after the user insert: the user must go with the secret.
CREATE FUNCTION pg_temp.refuse_signup()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'signup paused';
END
$$;
CREATE TRIGGER signup_paused
    AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_signup();

SELECT throws_ok(
    $$
        CALL create_secret(p_user_id => 'paused-user', p_email => 'paused@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's')
    $$,
    'P0001', 'signup paused', 'a failing DBA trigger on users fails the call'
);
SELECT is(
    (SELECT count(*) FROM users WHERE id = 'paused-user'),
    0::bigint,
    'no user remains after the failed call'
);
SELECT is(
    (SELECT count(*) FROM secrets WHERE user_id = 'paused-user'),
    0::bigint,
    'no secret remains after the failed call'
);

DROP TRIGGER signup_paused ON users;

SELECT lives_ok(
    $$
        CALL create_secret(p_user_id => 'paused-user', p_email => 'paused@example.com',
            p_title => 't', p_recipient_name => 'r', p_recipient_email => 'r@example.com',
            p_server_share => 's')
    $$,
    'the same call succeeds once the trigger is dropped'
);
SELECT is(
    (SELECT count(*) FROM secrets WHERE user_id = 'paused-user'),
    1::bigint,
    'the secret is stored after the trigger is dropped'
);

SELECT * FROM finish();
ROLLBACK;
