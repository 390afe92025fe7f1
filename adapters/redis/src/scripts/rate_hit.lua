-- Counts one attempt on a key's fixed window, opening a window when none is open.
--
-- KEYS[1] the key's hash: `end` (Unix ms, by the limiter's clock) and `count`.
-- ARGV[1] now (ms), ARGV[2] the end of a window opened now (ms), ARGV[3] the hash's TTL
-- (ms), a safety net only: the window is decided by `end`, never by Redis's own time.
-- Returns {count including this attempt, end of the window (ms)}.
local ends = redis.call('HGET', KEYS[1], 'end')
if ends and tonumber(ARGV[1]) < tonumber(ends) then
  return {redis.call('HINCRBY', KEYS[1], 'count', 1), ends}
end
redis.call('HSET', KEYS[1], 'end', ARGV[2], 'count', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, ARGV[2]}
