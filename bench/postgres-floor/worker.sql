-- The worker's share of a verification (pgbench script, run once per 16 verifications): one
-- batch claim of up to 16 webhook.event jobs through jobs_claimable_idx, as twofa's claim
-- statement does, and one statement completing that claim's jobs.
\set token random(1, 2000000000)
UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = now() + interval '30 s', run_at = now() + interval '30 s', lease_token = :token::text, updated_at = now() WHERE id IN (SELECT id FROM jobs WHERE state IN ('pending', 'running') AND run_at <= now() ORDER BY run_at, id LIMIT 16 FOR UPDATE SKIP LOCKED) RETURNING id, kind, payload, attempts, max_attempts, created_at;
UPDATE jobs SET state = 'done', lease_until = NULL, lease_token = NULL, finished_at = now(), updated_at = now() WHERE id IN (SELECT id FROM jobs WHERE state IN ('pending', 'running') AND run_at > now() AND lease_token = :token::text) AND state = 'running' RETURNING id;
