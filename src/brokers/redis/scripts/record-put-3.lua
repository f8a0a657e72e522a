--[[
  Writes records of one space, all or none; with a lock given, only while it is held.

  KEYS[1]  records hash     {p:lock:<space>}:rec   key -> value
  KEYS[2]  expiries zset    {p:lock:<space>}:rex   key -> epoch ms (records that lapse)
  KEYS[3]  lock hash        {p:lock:<name>}        checked when ARGV[1] is '1'

  ARGV[1]  '1' to check the lock, '0' not to
  ARGV[2]  lock owner
  ARGV[3]  lock fence
  ARGV[4..] triples: key, value, ttl ms ('' for none)

  Returns 1 when written, 0 when the lock is no longer held (nothing written).
]]
--- @include "time"
--- @include "records"

local now = now_ms()
if ARGV[1] == '1' then
  local h = redis.call('HMGET', KEYS[3], 'owner', 'fence', 'until')
  if h[1] ~= ARGV[2] or h[2] ~= ARGV[3] or (tonumber(h[3]) or 0) <= now then return 0 end
end
record_prune(KEYS[1], KEYS[2], now)
for i = 4, #ARGV, 3 do record_set(KEYS[1], KEYS[2], ARGV[i], ARGV[i + 1], ARGV[i + 2], now) end
return 1
