-- Atomic pick (DESIGN.md "Who owns which data"): take the lowest-score waiting request and the
-- longest-idle GP together, or nothing. The scores are returned so that a pick SQL refuses can be
-- put back at its exact place. KEYS[1] = queue zset, KEYS[2] = idle GP zset.
local req = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #req == 0 then return false end
local gp = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #gp == 0 then return false end
redis.call('ZREM', KEYS[1], req[1])
redis.call('ZREM', KEYS[2], gp[1])
return {req[1], req[2], gp[1], gp[2]}
