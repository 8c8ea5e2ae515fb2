-- Atomic pick (DESIGN.md "Who owns which data"): take the lowest-score waiting request and the
-- longest-idle GP together, or nothing. The request moves to the offered set with its score (it
-- keeps its place in the line patients see); the scores are returned so that a pick SQL refuses
-- can be put back exactly where it was.
-- KEYS[1] = queue zset, KEYS[2] = idle GP zset, KEYS[3] = offered zset.
local req = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #req == 0 then return false end
local gp = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #gp == 0 then return false end
redis.call('ZREM', KEYS[1], req[1])
redis.call('ZADD', KEYS[3], req[2], req[1])
redis.call('ZREM', KEYS[2], gp[1])
return {req[1], req[2], gp[1], gp[2]}
