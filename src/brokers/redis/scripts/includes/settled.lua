-- Throughput buckets: settled jobs counted per 10-second bucket in one hash per queue; the
-- bucket that falls out of the one-minute window is deleted as a new one starts (O(1) a call).
local BUCKET_MS = 10000
local WINDOW = 6

local function count_settled(key, now, n)
  if n <= 0 then return end
  local b = math.floor(now / BUCKET_MS)
  if redis.call('HINCRBY', key, b, n) == n then
    redis.call('HDEL', key, b - WINDOW)
  end
end
