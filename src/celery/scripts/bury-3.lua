-- KEYS: unacked, unacked_index, dead. ARGV: tag, id, reason, now (ms), queue.
-- Moves a filed message to the dead hash under its id. 1, or 0 when stale.
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({ id = ARGV[2], queue = ARGV[5], reason = ARGV[3],
  failedAt = tonumber(ARGV[4]), entry = v }))
return 1
