-- Takes a challenge entry: deletes it when its value is the expected one and it has fewer
-- failures than allowed. One script, so of concurrent takes at most one deletes it.
--
-- KEYS[1] the entry's hash (see challenge_put.lua).
-- ARGV[1] the expected value, ARGV[2] the most failures allowed (exclusive).
-- Returns 1 when taken, 0 otherwise (absent, expired, another value, too many failures).
local entry = redis.call('HMGET', KEYS[1], 'v', 'f')
if entry[1] and entry[1] == ARGV[1] and tonumber(entry[2] or '0') < tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
