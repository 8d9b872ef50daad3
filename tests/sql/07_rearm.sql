-- Re-arming a triggered secret by hand: triggered_at is cleared and a fresh period starts
-- from now(), unless the same UPDATE sets next_check_in itself.
BEGIN;
SET LOCAL search_path = public, tap;

SELECT plan(5);

INSERT INTO users (id, email) VALUES ('rearm-user', 'rearm@example.com');
INSERT INTO secrets (id, user_id, title, recipient_name, recipient_email, server_share,
    check_in_days, status, created_at)
VALUES
    ('00000000-0000-4000-8000-000000000001', 'rearm-user', 'A', 'R', 'r@example.com', 's',
        3, 'triggered', now() - interval '30 days'),
    ('00000000-0000-4000-8000-000000000002', 'rearm-user', 'B', 'R', 'r@example.com', 's',
        3, 'triggered', now() - interval '30 days');

SELECT isnt(
    (SELECT triggered_at FROM secrets WHERE id = '00000000-0000-4000-8000-000000000001'),
    NULL,
    'a secret written as triggered gets triggered_at'
);

UPDATE secrets SET status = 'active' WHERE id = '00000000-0000-4000-8000-000000000001';

SELECT is(
    (SELECT triggered_at FROM secrets WHERE id = '00000000-0000-4000-8000-000000000001'),
    NULL,
    're-arming clears triggered_at'
);
SELECT is(
    (SELECT next_check_in FROM secrets WHERE id = '00000000-0000-4000-8000-000000000001'),
    now() + interval '72 hours',
    're-arming starts a fresh period of check_in_days x 24 hours from now()'
);

UPDATE secrets
SET status = 'paused', next_check_in = '2030-01-01 00:00:00+00'
WHERE id = '00000000-0000-4000-8000-000000000002';

SELECT is(
    (SELECT next_check_in FROM secrets WHERE id = '00000000-0000-4000-8000-000000000002'),
    '2030-01-01 00:00:00+00'::timestamptz,
    'an explicit next_check_in in the re-arming UPDATE is kept'
);
SELECT is(
    (SELECT status::text FROM secrets WHERE id = '00000000-0000-4000-8000-000000000002'),
    'paused',
    're-arming to paused keeps the status given'
);

SELECT * FROM finish();
ROLLBACK;
