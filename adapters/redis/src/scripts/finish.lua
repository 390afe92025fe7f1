-- Ends a held job: done (complete) or dead (bury). It is kept, for its idempotency key and for
-- inspection, until purged.
--
-- KEYS[1] the job's hash, KEYS[2] the inflight set, KEYS[3] the finished set, KEYS[4] the dead
-- set.
-- ARGV[1] id, ARGV[2] the claim's lease token, ARGV[3] 'done' or 'dead', ARGV[4] now (ms),
-- ARGV[5] (only when dead) the error.
-- Returns 1, or 0 when the claim is stale.
local held = redis.call('HMGET', KEYS[1], 'state', 'lease_token')
if held[1] ~= 'running' or held[2] ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'finished_at', ARGV[4])
if ARGV[5] then
  redis.call('HSET', KEYS[1], 'last_error', ARGV[5])
end
redis.call('HDEL', KEYS[1], 'lease_until', 'lease_token')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
if ARGV[3] == 'dead' then
  redis.call('SADD', KEYS[4], ARGV[1])
end
return 1
