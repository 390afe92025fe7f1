-- Jobs per state, read at one instant.
--
-- KEYS[1] the due set, KEYS[2] the inflight set, KEYS[3] the dead set.
-- ARGV[1] now (ms).
-- Returns {pending, running, dead}: a running job whose lease ran out counts as pending.
local expired = redis.call('ZCOUNT', KEYS[2], '-inf', ARGV[1])
return {
  redis.call('ZCARD', KEYS[1]) + expired,
  redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[1], '+inf'),
  redis.call('SCARD', KEYS[3]),
}
