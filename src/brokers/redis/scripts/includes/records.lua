-- Records of one space: KEYS[1] a hash key -> value, KEYS[2] a sorted set key -> expiry (epoch
-- ms) holding only the records that lapse.

-- The live value of a record, or nil.
local function record_live(hash, expiries, key, now)
  local v = redis.call('HGET', hash, key)
  if not v then return nil end
  local at = redis.call('ZSCORE', expiries, key)
  if at and tonumber(at) <= now then return nil end
  return v
end

-- Deletes up to 100 lapsed records.
local function record_prune(hash, expiries, now)
  local gone = redis.call('ZRANGEBYSCORE', expiries, '-inf', now, 'LIMIT', 0, 100)
  if #gone > 0 then
    redis.call('HDEL', hash, unpack(gone))
    redis.call('ZREM', expiries, unpack(gone))
  end
end

-- Writes one record; ttl '' keeps it until removed.
local function record_set(hash, expiries, key, value, ttl, now)
  redis.call('HSET', hash, key, value)
  if ttl == '' then
    redis.call('ZREM', expiries, key)
  else
    redis.call('ZADD', expiries, now + tonumber(ttl), key)
  end
end
