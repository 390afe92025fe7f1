-- The PostgreSQL floor of scripts/bench --verify: accounts with an enabled TOTP factor, in a
-- database of their own that `twofa migrate` created (so the schema is twofa's own).
-- psql -v accounts=N. Account i is user md5(i) with factor md5('f' || i).
CREATE FUNCTION floor_time_ordered_id() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  -- twofa's audit-event and job ids are time-ordered (UUIDv7 layout), so their index entries
  -- land at the right end of the b-tree; random ids would cost PostgreSQL more than twofa pays.
  SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
          || '7' || substr(md5(random()::text), 1, 19))::uuid
$$;
INSERT INTO users (id, email, email_canonical, username, username_canonical, password_hash,
                   role, email_verified, is_active, created_at, updated_at, two_factor_enabled)
SELECT md5(i::text)::uuid, 'floor' || i || '@example.com', 'floor' || i || '@example.com',
       'floor' || i, 'floor' || i,
       '$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'user', true, true,
       now(), now(), true
  FROM generate_series(1, :accounts) i;
INSERT INTO factors (id, user_id, kind, secret_key_id, secret_ciphertext, destination,
                     last_used_step, created_at, verified_at)
SELECT md5('f' || i)::uuid, md5(i::text)::uuid, 'totp', 'floor',
       decode(md5(i::text) || md5(i::text) || md5(i::text), 'hex'), NULL, 0, now(), now()
  FROM generate_series(1, :accounts) i;
VACUUM ANALYZE;
