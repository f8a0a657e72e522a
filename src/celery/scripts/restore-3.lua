-- KEYS: unacked, unacked_index, list. ARGV: tag, payload.
-- Puts a filed message back at the right end of its list (next out), as kombu's restore does,
-- if it is still filed under tag. Returns 1, or 0 when the tag is gone.
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[3], ARGV[2])
return 1
