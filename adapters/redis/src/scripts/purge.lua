-- Deletes one batch of done and dead jobs that finished before a cut-off, with the idempotency
-- keys they hold.
--
-- KEYS[1] the finished set, KEYS[2] the dead set.
-- ARGV[1] the cut-off (ms, exclusive), ARGV[2] the batch size, ARGV[3] the prefix of job
-- hashes, ARGV[4] the prefix of idempotency keys (both with the KEYS' hash tag).
-- Returns how many jobs were deleted; fewer than the batch size means none are left.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local job = ARGV[3] .. id
  local key = redis.call('HGET', job, 'idempotency_key')
  if key then
    local idempotency = ARGV[4] .. key
    if redis.call('GET', idempotency) == id then
      redis.call('DEL', idempotency)
    end
  end
  redis.call('DEL', job)
  redis.call('SREM', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
