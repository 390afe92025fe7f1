-- Forgets a key's window.
--
-- KEYS[1] the key's hash (see rate_hit.lua).
-- Returns the number of keys deleted (0 or 1).
return redis.call('DEL', KEYS[1])
