-- Counts one wrong answer against a live challenge entry, keeping its time to live.
--
-- KEYS[1] the entry's hash (see challenge_put.lua).
-- Returns its failures now, or nil when no entry is live under the key.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HINCRBY', KEYS[1], 'f', 1)
end
return false
