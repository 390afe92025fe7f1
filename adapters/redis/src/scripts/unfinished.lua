-- The jobs not done, at most ARGV[1] of them: pending ones by run_at, then running ones by
-- lease_until, then dead ones (any of them).
--
-- KEYS[1] the due set, KEYS[2] the inflight set, KEYS[3] the dead set.
-- ARGV[1] the limit, ARGV[2] the prefix of job hashes.
-- Returns {{id, kind, state, time, attempts, last_error}, ...}: state is the set's ('pending',
-- 'running' or 'dead'), time its score (ms: run_at, lease_until; 0 when dead), last_error ''
-- when no run failed.
local limit = tonumber(ARGV[1])
local listed = {}

local function add(id, state, at)
  local fields = redis.call('HMGET', ARGV[2] .. id, 'kind', 'attempts', 'last_error')
  -- A member without its hash (deleted behind the queue's back) is not a job.
  if fields[1] then
    listed[#listed + 1] = {id, fields[1], state, at, tonumber(fields[2]) or 0, fields[3] or ''}
  end
end

local function scored(set, state)
  if #listed >= limit then
    return
  end
  local members = redis.call('ZRANGE', set, 0, limit - #listed - 1, 'WITHSCORES')
  for i = 1, #members, 2 do
    add(members[i], state, tonumber(members[i + 1]))
  end
end

scored(KEYS[1], 'pending')
scored(KEYS[2], 'running')
if #listed < limit then
  for _, id in ipairs(redis.call('SRANDMEMBER', KEYS[3], limit - #listed)) do
    add(id, 'dead', 0)
  end
end
return listed
