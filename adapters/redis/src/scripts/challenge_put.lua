-- Stores a challenge entry with no failures, replacing whatever was under its key.
--
-- KEYS[1] the entry's hash: `v` (its value) and `f` (wrong answers counted so far).
-- ARGV[1] the value, ARGV[2] the time to live (ms, at least 1).
-- Returns 1.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'f', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
