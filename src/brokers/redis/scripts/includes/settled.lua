-- Throughput buckets: settled jobs counted per 10-second bucket in one hash per queue. When a new
-- bucket starts, every bucket older than the one-minute window is deleted (the hash holds at most
-- seven, so this stays O(1)), and the hash is set to expire when the new bucket leaves the window:
-- a queue that falls idle leaves nothing behind.
local BUCKET_MS = 10000
local WINDOW = 6

local function count_settled(key, now, n)
  if n <= 0 then return end
  local b = math.floor(now / BUCKET_MS)
  if redis.call('HINCRBY', key, b, n) == n then
    local old = {}
    local fields = redis.call('HKEYS', key)
    for i = 1, #fields do
      if tonumber(fields[i]) <= b - WINDOW then old[#old + 1] = fields[i] end
    end
    if #old > 0 then redis.call('HDEL', key, unpack(old)) end
    redis.call('PEXPIREAT', key, (b + WINDOW) * BUCKET_MS)
  end
end
