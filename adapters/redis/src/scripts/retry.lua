-- Puts a held job back in the queue, due at a later time.
--
-- KEYS[1] the job's hash, KEYS[2] the inflight set, KEYS[3] the due set.
-- ARGV[1] id, ARGV[2] the claim's lease token, ARGV[3] the new run_at (ms), ARGV[4] the error.
-- Returns 1, or 0 when the claim is stale.
local held = redis.call('HMGET', KEYS[1], 'state', 'lease_token')
if held[1] ~= 'running' or held[2] ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'pending', 'run_at', ARGV[3], 'last_error', ARGV[4])
redis.call('HDEL', KEYS[1], 'lease_until', 'lease_token')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
