-- Reads a key's open window without counting.
--
-- KEYS[1] the key's hash (see rate_hit.lua). ARGV[1] now (ms).
-- Returns {count, end of the window (ms)}, or nil when no window is open.
local window = redis.call('HMGET', KEYS[1], 'end', 'count')
if window[1] and tonumber(ARGV[1]) < tonumber(window[1]) then
  return {window[2] or '0', window[1]}
end
return false
