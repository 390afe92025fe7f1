-- verify.sql without the two audit events and the webhook.event job (run without worker.sql):
-- what the reads, the step update, the session and its refresh token cost on their own.
\set u random(1, :accounts)
SELECT id, email, email_canonical, username, username_canonical, password_hash, role, email_verified, is_active, created_at, updated_at, two_factor_enabled FROM users WHERE id = md5(:u::text)::uuid;
SELECT id, user_id, kind, secret_key_id, secret_ciphertext, destination, last_used_step, created_at, verified_at, last_used_at FROM factors WHERE user_id = md5(:u::text)::uuid AND verified_at IS NOT NULL;
BEGIN;
UPDATE factors SET last_used_step = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, last_used_at = now() WHERE id = md5('f' || :u::text)::uuid AND verified_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
WITH w0 AS (INSERT INTO sessions (id, user_id, amr, ip, user_agent, created_at, last_used_at, expires_at, revoked_at) VALUES (gen_random_uuid(), md5(:u::text)::uuid, '["pwd","mfa","otp"]', '127.0.0.1', 'twofa-bench/floor', now(), now(), now() + interval '30 days', NULL) RETURNING id), w1 AS (INSERT INTO refresh_tokens (token_hash, session_id, issued_at) SELECT sha256(decode(md5(random()::text), 'hex')), id, now() FROM w0) SELECT 1;
COMMIT;
