-- KEYS: unacked, unacked_index. ARGV: old tag, new tag, entry, score (seconds).
-- Replaces a filed message by a new one (a retry) filed until its time. 1, or 0 when stale.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
