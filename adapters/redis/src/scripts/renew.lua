-- Extends a held lease.
--
-- KEYS[1] the job's hash, KEYS[2] the inflight set.
-- ARGV[1] id, ARGV[2] the claim's lease token, ARGV[3] the new lease_until (ms).
-- Returns 1, or 0 when the claim is stale (the job is not running under this token).
local held = redis.call('HMGET', KEYS[1], 'state', 'lease_token')
if held[1] ~= 'running' or held[2] ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
