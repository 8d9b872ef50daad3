-- record_check_in from psql: a check-in writes a history row and moves next_check_in to
-- exactly check_in_days x 24 hours later; someone else's secret and a missing one are the
-- same SD003, so ids cannot be probed; a triggered secret is SD004; a paused one stays paused.
BEGIN;
SET LOCAL search_path = public, tap;

SELECT plan(34);

-- error_shape runs p_sql and describes the error it raises with any UUID masked, so that
-- errors about different secrets can be compared; NULL when nothing is raised.
CREATE FUNCTION pg_temp.error_shape(p_sql text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_state text;
    v_column text;
    v_message text;
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS
            v_state = RETURNED_SQLSTATE,
            v_column = COLUMN_NAME,
            v_message = MESSAGE_TEXT;
        RETURN format('%s %s: %s', v_state, v_column,
            regexp_replace(v_message, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<id>', 'g'));
END
$$;

CALL create_secret(
    p_user_id => '103890241628354500674',
    p_email => 'jordan.lee@example.com',
    p_title => 'Safe deposit box',
    p_recipient_name => 'Sam Rivera',
    p_recipient_email => 'sam.rivera@example.org',
    p_server_share => 'c2VydmVyLXNoYXJlLTE=',
    p_check_in_days => 7
) \gset active_
CALL create_secret(
    p_user_id => '103890241628354500674',
    p_email => 'jordan.lee@example.com',
    p_title => 'Released',
    p_recipient_name => 'Sam Rivera',
    p_recipient_email => 'sam.rivera@example.org',
    p_server_share => 'c2VydmVyLXNoYXJlLTI='
) \gset triggered_
CALL create_secret(
    p_user_id => '103890241628354500674',
    p_email => 'jordan.lee@example.com',
    p_title => 'On hold',
    p_recipient_name => 'Sam Rivera',
    p_recipient_email => 'sam.rivera@example.org',
    p_server_share => 'c2VydmVyLXNoYXJlLTM=',
    p_check_in_days => 3
) \gset paused_

-- Back-date the active secret so that a check-in visibly moves it.
UPDATE secrets
SET created_at = now() - interval '5 days',
    next_check_in = now() + interval '2 days'
WHERE id = :'active_secret_id';

CALL record_check_in(
    p_user_id => '103890241628354500674',
    p_email => 'jordan.lee@example.com',
    p_secret_id => :'active_secret_id'
) \gset checkin_

SELECT is(:'checkin_user_id'::text, '103890241628354500674', 'CALL returns the user id');
SELECT is(:'checkin_outcome'::text, 'existing', 'the user is found as existing');
SELECT is(:'checkin_checked_in_at'::timestamptz, now(), 'the check-in happens now');
SELECT is(
    :'checkin_next_check_in'::timestamptz - :'checkin_checked_in_at'::timestamptz,
    interval '168 hours',
    'next_check_in is exactly 7 x 24 hours after the check-in'
);
SELECT results_eq(
    format(
        $$
            SELECT secret_id::text, user_id, checked_in_at, next_check_in
            FROM checkin_history
            WHERE secret_id = %L
        $$,
        :'active_secret_id'
    ),
    format(
        $$ VALUES (%L, '103890241628354500674', now(), now() + interval '168 hours') $$,
        :'active_secret_id'
    ),
    'one history row records the check-in and its next_check_in'
);
SELECT results_eq(
    format(
        $$ SELECT last_check_in, next_check_in, status::text FROM secrets WHERE id = %L $$,
        :'active_secret_id'
    ),
    $$ VALUES (now(), now() + interval '168 hours', 'active') $$,
    'the secret moved from 2 days away to 7 x 24 hours after the check-in'
);
SELECT is(
    (
        SELECT count(*)
        FROM audit_events
        WHERE action = 'secret.checked_in' AND object_id = :'active_secret_id'
    ),
    1::bigint,
    'the check-in is audited'
);

-- An id given without hyphens or in capitals names the same secret.
SELECT lives_ok(
    format(
        $$
            CALL record_check_in(p_user_id => '103890241628354500674',
                p_email => 'jordan.lee@example.com', p_secret_id => %L)
        $$,
        upper(replace(:'active_secret_id', '-', ''))
    ),
    'a secret id in capitals without hyphens is accepted'
);
SELECT is(
    (SELECT count(*) FROM checkin_history WHERE secret_id = :'active_secret_id'),
    2::bigint,
    'the second check-in added a second history row'
);

-- Someone else's secret and a missing one: the same SD003, the same message shape.
SELECT results_eq(
    $$ SELECT user_id, outcome FROM ensure_user('gh-4412', 'sam.rivera@example.org') $$,
    $$ VALUES ('gh-4412', 'created') $$,
    'a second user exists'
);
SELECT throws_ok(
    format(
        $$
            CALL record_check_in(p_user_id => 'gh-4412', p_email => 'sam.rivera@example.org',
                p_secret_id => %L)
        $$,
        :'active_secret_id'
    ),
    'SD003',
    format('secret %s not found', :'active_secret_id'),
    'checking in another user''s secret is SD003'
);
SELECT throws_ok(
    $$
        CALL record_check_in(p_user_id => 'gh-4412', p_email => 'sam.rivera@example.org',
            p_secret_id => '5f0c9a53-1d3e-4a7b-9c2d-7e8f00000000')
    $$,
    'SD003',
    'secret 5f0c9a53-1d3e-4a7b-9c2d-7e8f00000000 not found',
    'checking in a missing secret is SD003'
);
SELECT is(
    pg_temp.error_shape(format(
        $$
            CALL record_check_in(p_user_id => 'gh-4412', p_email => 'sam.rivera@example.org',
                p_secret_id => %L)
        $$,
        :'active_secret_id'
    )),
    pg_temp.error_shape($$
        CALL record_check_in(p_user_id => 'gh-4412', p_email => 'sam.rivera@example.org',
            p_secret_id => '5f0c9a53-1d3e-4a7b-9c2d-7e8f00000000')
    $$),
    'another user''s secret and a missing one raise the same error shape'
);
SELECT is(
    pg_temp.error_shape($$
        CALL record_check_in(p_user_id => 'gh-4412', p_email => 'sam.rivera@example.org',
            p_secret_id => '5f0c9a53-1d3e-4a7b-9c2d-7e8f00000000')
    $$),
    'SD003 secret_id: secret <id> not found',
    'SD003 names secret_id in COLUMN'
);
SELECT throws_ok(
    $$
        CALL record_check_in(p_user_id => 'never-stored', p_email => 'new.user@example.com',
            p_secret_id => '5f0c9a53-1d3e-4a7b-9c2d-7e8f00000000')
    $$,
    'SD003',
    'secret 5f0c9a53-1d3e-4a7b-9c2d-7e8f00000000 not found',
    'a session user never stored gets SD003, not a foreign-key error'
);
SELECT is(
    (SELECT count(*) FROM users WHERE id = 'never-stored'),
    0::bigint,
    'the failed check-in left no user behind'
);
SELECT throws_ok(
    $$
        CALL record_check_in(p_user_id => '103890241628354500674',
            p_email => 'jordan.lee@example.com', p_secret_id => 'nope')
    $$,
    'SD001',
    'secret_id must be a UUID, got ''nope''',
    'a secret id that is not a UUID is SD001'
);
SELECT throws_ok(
    $$
        CALL record_check_in(p_user_id => '103890241628354500674',
            p_email => 'jordan.lee@example.com', p_secret_id => NULL)
    $$,
    'SD001',
    'secret_id must be a UUID, got NULL',
    'a NULL secret id is SD001'
);
SELECT is(
    (SELECT count(*) FROM checkin_history),
    2::bigint,
    'no refused check-in wrote history'
);

-- A linked id checks in its owner's secrets.
SELECT results_eq(
    $$
        SELECT outcome
        FROM ensure_user('gh-777', 'jordan.lee@example.com', p_email_verified => true,
            p_provider => 'github', p_link_verified_email => true)
    $$,
    $$ VALUES ('linked') $$,
    'gh-777 is linked to the owner'
);
SELECT lives_ok(
    format(
        $$
            CALL record_check_in(p_user_id => 'gh-777', p_email => 'jordan.lee@example.com',
                p_secret_id => %L)
        $$,
        :'active_secret_id'
    ),
    'a linked id checks in its owner''s secret'
);

-- triggered: SD004, nothing written, whichever way the row is attempted.
UPDATE secrets SET status = 'triggered' WHERE id = :'triggered_secret_id';

SELECT isnt(
    (SELECT triggered_at FROM secrets WHERE id = :'triggered_secret_id'),
    NULL,
    'triggering a secret stamps triggered_at'
);
SELECT throws_ok(
    format(
        $$
            CALL record_check_in(p_user_id => '103890241628354500674',
                p_email => 'jordan.lee@example.com', p_secret_id => %L)
        $$,
        :'triggered_secret_id'
    ),
    'SD004',
    format('secret %s has been triggered and takes no more check-ins', :'triggered_secret_id'),
    'checking in a triggered secret is SD004'
);
SELECT is(
    pg_temp.error_shape(format(
        $$
            CALL record_check_in(p_user_id => '103890241628354500674',
                p_email => 'jordan.lee@example.com', p_secret_id => %L)
        $$,
        :'triggered_secret_id'
    )),
    'SD004 secret_id: secret <id> has been triggered and takes no more check-ins',
    'SD004 names secret_id in COLUMN'
);
SELECT throws_ok(
    format(
        $$
            INSERT INTO checkin_history (secret_id, user_id)
            VALUES (%L, '103890241628354500674')
        $$,
        :'triggered_secret_id'
    ),
    'SD004',
    format('secret %s has been triggered and takes no more check-ins', :'triggered_secret_id'),
    'a hand-written check-in of a triggered secret is SD004 too'
);
SELECT results_eq(
    format(
        $$
            SELECT status::text, last_check_in, (SELECT count(*) FROM checkin_history h
                WHERE h.secret_id = s.id)
            FROM secrets s
            WHERE s.id = %L
        $$,
        :'triggered_secret_id'
    ),
    $$ VALUES ('triggered', NULL::timestamptz, 0::bigint) $$,
    'the triggered secret is unchanged and has no history'
);

-- paused: the check-in is recorded and the secret stays paused.
UPDATE secrets
SET status = 'paused',
    created_at = now() - interval '1 day',
    next_check_in = now() + interval '2 days'
WHERE id = :'paused_secret_id';

CALL record_check_in(
    p_user_id => '103890241628354500674',
    p_email => 'jordan.lee@example.com',
    p_secret_id => :'paused_secret_id'
) \gset paused_checkin_

SELECT is(
    :'paused_checkin_next_check_in'::timestamptz,
    now() + interval '72 hours',
    'a paused secret''s check-in returns now + 3 x 24 hours'
);
SELECT results_eq(
    format(
        $$ SELECT status::text, last_check_in, next_check_in FROM secrets WHERE id = %L $$,
        :'paused_secret_id'
    ),
    $$ VALUES ('paused', now(), now() + interval '72 hours') $$,
    'the paused secret stays paused and moves its next check-in'
);
SELECT is(
    (SELECT count(*) FROM checkin_history WHERE secret_id = :'paused_secret_id'),
    1::bigint,
    'the paused secret''s check-in is in the history'
);

-- Hand-written history rows keep the same rules as the routine.
SELECT throws_ok(
    format(
        $$ INSERT INTO checkin_history (secret_id, user_id) VALUES (%L, 'gh-4412') $$,
        :'active_secret_id'
    ),
    'SD003',
    format('secret %s not found for user gh-4412', :'active_secret_id'),
    'a hand-written check-in by someone other than the owner is SD003'
);
SELECT lives_ok(
    format(
        $$
            INSERT INTO checkin_history (secret_id, user_id, checked_in_at)
            VALUES (%L, '103890241628354500674', now() - interval '10 days')
        $$,
        :'active_secret_id'
    ),
    'an older check-in can be back-filled'
);
SELECT results_eq(
    format(
        $$
            SELECT next_check_in - checked_in_at
            FROM checkin_history
            WHERE secret_id = %L AND checked_in_at = now() - interval '10 days'
        $$,
        :'active_secret_id'
    ),
    $$ VALUES (interval '168 hours') $$,
    'the back-filled row gets its own next_check_in of 7 x 24 hours'
);
SELECT results_eq(
    format(
        $$ SELECT last_check_in, next_check_in FROM secrets WHERE id = %L $$,
        :'active_secret_id'
    ),
    $$ VALUES (now(), now() + interval '168 hours') $$,
    'a back-filled older check-in does not move the secret back'
);

-- A change of check_in_days re-derives next_check_in from the last check-in.
UPDATE secrets SET check_in_days = 10 WHERE id = :'active_secret_id';

SELECT is(
    (SELECT next_check_in FROM secrets WHERE id = :'active_secret_id'),
    now() + interval '240 hours',
    'changing check_in_days to 10 moves next_check_in to 10 x 24 hours after the check-in'
);

SELECT * FROM finish();
ROLLBACK;
