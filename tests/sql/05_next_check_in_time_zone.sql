-- next_check_in is check_in_days x 24 hours after creation or the last check-in, an
-- absolute span, so it is the same instant whatever TimeZone the writing session has. Around
-- the 2026 daylight-saving changes of America/New_York (2026-03-08 and 2026-11-01) adding
-- days instead of hours would be off by one hour, so these rows are written by hand with
-- explicit created_at and checked_in_at and the triggers derive next_check_in from them.
BEGIN;
SET LOCAL search_path = public, tap;

SELECT plan(12);

INSERT INTO users (id, email) VALUES ('tz-owner', 'tz.owner@example.com');

SET LOCAL TimeZone = 'America/New_York';

INSERT INTO secrets (user_id, title, recipient_name, recipient_email, server_share,
    check_in_days, created_at)
VALUES
    ('tz-owner', 'spring new_york', 'r', 'r@example.com', 's', 2, '2026-03-07 12:00:00+00'),
    ('tz-owner', 'fall new_york', 'r', 'r@example.com', 's', 2, '2026-10-31 12:00:00+00'),
    -- Local wall-clock time, as a DBA in New York would type it: 07:00 EST is 12:00 UTC.
    ('tz-owner', 'spring local', 'r', 'r@example.com', 's', 2, '2026-03-07 07:00:00'),
    ('tz-owner', 'month new_york', 'r', 'r@example.com', 's', 30, '2026-02-20 12:00:00+00'),
    ('tz-owner', 'checkin new_york', 'r', 'r@example.com', 's', 2, '2026-03-01 12:00:00+00'),
    ('tz-owner', 'days new_york', 'r', 'r@example.com', 's', 2, '2026-10-30 12:00:00+00');

INSERT INTO checkin_history (secret_id, user_id, checked_in_at)
SELECT s.id, s.user_id, '2026-03-07 15:00:00+00'
FROM secrets s
WHERE s.title = 'checkin new_york';

UPDATE secrets SET check_in_days = 3 WHERE title = 'days new_york';

SELECT is(
    current_setting('TimeZone'),
    'America/New_York',
    'the first rows were written in America/New_York'
);

SET LOCAL TimeZone = 'UTC';

INSERT INTO secrets (user_id, title, recipient_name, recipient_email, server_share,
    check_in_days, created_at)
VALUES
    ('tz-owner', 'spring utc', 'r', 'r@example.com', 's', 2, '2026-03-07 12:00:00+00'),
    ('tz-owner', 'fall utc', 'r', 'r@example.com', 's', 2, '2026-10-31 12:00:00+00'),
    ('tz-owner', 'month utc', 'r', 'r@example.com', 's', 30, '2026-02-20 12:00:00+00'),
    ('tz-owner', 'checkin utc', 'r', 'r@example.com', 's', 2, '2026-03-01 12:00:00+00'),
    ('tz-owner', 'days utc', 'r', 'r@example.com', 's', 2, '2026-10-30 12:00:00+00');

INSERT INTO checkin_history (secret_id, user_id, checked_in_at)
SELECT s.id, s.user_id, '2026-03-07 15:00:00+00'
FROM secrets s
WHERE s.title = 'checkin utc';

UPDATE secrets SET check_in_days = 3 WHERE title = 'days utc';

SELECT results_eq(
    $$ SELECT next_check_in FROM secrets WHERE title IN ('spring new_york', 'spring utc') $$,
    $$ VALUES ('2026-03-09 12:00:00+00'::timestamptz), ('2026-03-09 12:00:00+00') $$,
    'across 2026-03-08 both zones give created_at + 48 hours'
);
SELECT is(
    (SELECT next_check_in FROM secrets WHERE title = 'spring local'),
    '2026-03-09 12:00:00+00'::timestamptz,
    'a local New York created_at gives the same instant, not 07:00 EDT'
);
SELECT results_eq(
    $$ SELECT next_check_in FROM secrets WHERE title IN ('fall new_york', 'fall utc') $$,
    $$ VALUES ('2026-11-02 12:00:00+00'::timestamptz), ('2026-11-02 12:00:00+00') $$,
    'across 2026-11-01 both zones give created_at + 48 hours'
);
SELECT results_eq(
    $$ SELECT next_check_in FROM secrets WHERE title IN ('month new_york', 'month utc') $$,
    $$ VALUES ('2026-03-22 12:00:00+00'::timestamptz), ('2026-03-22 12:00:00+00') $$,
    'a 30-day span across 2026-03-08 is 720 hours in both zones'
);
SELECT results_eq(
    $$
        SELECT h.next_check_in
        FROM checkin_history h
        JOIN secrets s ON s.id = h.secret_id
        WHERE s.title IN ('checkin new_york', 'checkin utc')
    $$,
    $$ VALUES ('2026-03-09 15:00:00+00'::timestamptz), ('2026-03-09 15:00:00+00') $$,
    'a check-in across 2026-03-08 is followed 48 hours later in both zones'
);
SELECT results_eq(
    $$
        SELECT last_check_in, next_check_in
        FROM secrets
        WHERE title IN ('checkin new_york', 'checkin utc')
    $$,
    $$
        VALUES
            ('2026-03-07 15:00:00+00'::timestamptz, '2026-03-09 15:00:00+00'::timestamptz),
            ('2026-03-07 15:00:00+00', '2026-03-09 15:00:00+00')
    $$,
    'the checked-in secrets carry the same next_check_in in both zones'
);
SELECT results_eq(
    $$ SELECT next_check_in FROM secrets WHERE title IN ('days new_york', 'days utc') $$,
    $$ VALUES ('2026-11-02 12:00:00+00'::timestamptz), ('2026-11-02 12:00:00+00') $$,
    'changing check_in_days across 2026-11-01 re-derives 72 hours in both zones'
);
SELECT is(
    (
        SELECT count(DISTINCT next_check_in - coalesce(last_check_in, created_at))
        FROM secrets
        WHERE check_in_days = 2 AND user_id = 'tz-owner'
    ),
    1::bigint,
    'every 2-day secret is due the same span after its start, whichever zone wrote it'
);

-- Through the API: create_secret and record_check_in under New York keep whole 24-hour days.
SET LOCAL TimeZone = 'America/New_York';

CALL create_secret(
    p_user_id => 'tz-api',
    p_email => 'tz.api@example.com',
    p_title => 'API in New York',
    p_recipient_name => 'r',
    p_recipient_email => 'r@example.com',
    p_server_share => 's',
    p_check_in_days => 45
) \gset api_

SELECT is(
    extract(epoch FROM :'api_next_check_in'::timestamptz - now()),
    45 * 86400::numeric,
    'create_secret in New York sets next_check_in 45 x 86400 seconds ahead'
);

CALL record_check_in(
    p_user_id => 'tz-api',
    p_email => 'tz.api@example.com',
    p_secret_id => :'api_secret_id'
) \gset api_checkin_

SELECT is(
    extract(epoch FROM :'api_checkin_next_check_in'::timestamptz
        - :'api_checkin_checked_in_at'::timestamptz),
    45 * 86400::numeric,
    'record_check_in in New York sets next_check_in 45 x 86400 seconds after the check-in'
);

SET LOCAL TimeZone = 'UTC';

SELECT is(
    (SELECT next_check_in FROM secrets WHERE id = :'api_secret_id'),
    :'api_checkin_next_check_in'::timestamptz,
    'read back in UTC, the stored next_check_in is the instant returned in New York'
);

SELECT * FROM finish();
ROLLBACK;
