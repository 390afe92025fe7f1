-- Adds a pending job, unless its idempotency key is already held by a kept job.
--
-- KEYS[1] the job's hash, KEYS[2] the due set, KEYS[3] (only with a key) the idempotency key.
-- ARGV[1] id, ARGV[2] kind, ARGV[3] payload (JSON), ARGV[4] max_attempts, ARGV[5] run_at (ms),
-- ARGV[6] created_at (ms), ARGV[7] the idempotency key itself ('' without one).
-- Returns the id of the job the caller should see: the new one, or the key's holder.
if KEYS[3] then
  local holder = redis.call('GET', KEYS[3])
  if holder then
    return holder
  end
  redis.call('SET', KEYS[3], ARGV[1])
end
redis.call('HSET', KEYS[1],
  'kind', ARGV[2],
  'payload', ARGV[3],
  'state', 'pending',
  'attempts', '0',
  'max_attempts', ARGV[4],
  'run_at', ARGV[5],
  'created_at', ARGV[6])
if KEYS[3] then
  redis.call('HSET', KEYS[1], 'idempotency_key', ARGV[7])
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return ARGV[1]
