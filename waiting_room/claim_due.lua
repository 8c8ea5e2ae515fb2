-- Claim due timers atomically: each timer is handled by exactly one node.
-- KEYS[1] = timers zset (member "<kind>:<id>[:<id>]", score = business epoch seconds)
-- ARGV[1] = now, ARGV[2] = most to claim
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
