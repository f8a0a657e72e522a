--[[
  Removes records of one space.

  KEYS[1]  records hash     {p:lock:<space>}:rec
  KEYS[2]  expiries zset    {p:lock:<space>}:rex

  ARGV[1]  '1' to remove only records whose value is ARGV[2], '0' for any value
  ARGV[2]  that value
  ARGV[3..] keys

  Returns how many live records were removed.
]]
--- @include "time"
--- @include "records"

local now = now_ms()
local removed = 0
for i = 3, #ARGV do
  local v = record_live(KEYS[1], KEYS[2], ARGV[i], now)
  if v and (ARGV[1] ~= '1' or v == ARGV[2]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    removed = removed + 1
  end
end
record_prune(KEYS[1], KEYS[2], now)
return removed
