-- Takes back one attempt counted in a key's open window, never below zero, never moving the
-- window.
--
-- KEYS[1] the key's hash (see rate_hit.lua). ARGV[1] now (ms).
-- Returns the count left (0 when no window is open).
local window = redis.call('HMGET', KEYS[1], 'end', 'count')
if window[1] and tonumber(ARGV[1]) < tonumber(window[1]) and tonumber(window[2] or '0') > 0 then
  return redis.call('HINCRBY', KEYS[1], 'count', -1)
end
return 0
