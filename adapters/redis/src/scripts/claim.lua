-- Leases the next claimable job: the earlier, by (time, id), of the first due job (time =
-- run_at) and the first job whose lease ran out (time = lease_until, as if it fell due then).
--
-- KEYS[1] the due set, KEYS[2] the inflight set.
-- ARGV[1] now (ms), ARGV[2] the new lease_until (ms), ARGV[3] the new lease token,
-- ARGV[4] the prefix of job hashes (same hash tag as the KEYS, so the same cluster slot).
-- Returns nil, or {id, kind, payload, attempts, max_attempts, created_at}.

-- The first member of `set` scored at or before now, and its score.
local function first(set)
  local head = redis.call('ZRANGEBYSCORE', set, '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, 1)
  if head[1] then
    return head[1], tonumber(head[2])
  end
  return nil, nil
end

while true do
  local due, due_at = first(KEYS[1])
  local expired, expired_at = first(KEYS[2])
  local id, from
  -- Ids are hyphenated lower-case UUIDs v7 of one length: comparing them as strings is
  -- comparing them as ids, which is also how a sorted set orders members of equal score.
  if due and (not expired or due_at < expired_at or (due_at == expired_at and due < expired)) then
    id, from = due, KEYS[1]
  elseif expired then
    id, from = expired, KEYS[2]
  else
    return nil
  end
  redis.call('ZREM', from, id)
  local job = ARGV[4] .. id
  -- A member without its hash (deleted behind the queue's back) is dropped, not leased.
  if redis.call('EXISTS', job) == 1 then
    local attempts = redis.call('HINCRBY', job, 'attempts', 1)
    redis.call('HSET', job, 'state', 'running', 'lease_until', ARGV[2], 'lease_token', ARGV[3])
    redis.call('ZADD', KEYS[2], ARGV[2], id)
    local fields = redis.call('HMGET', job, 'kind', 'payload', 'max_attempts', 'created_at')
    return {id, fields[1], fields[2], attempts, fields[3], fields[4]}
  end
end
