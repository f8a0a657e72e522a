--[[
  Reads records of one space.

  KEYS[1]  records hash     {p:lock:<space>}:rec
  KEYS[2]  expiries zset    {p:lock:<space>}:rex

  ARGV[1..] keys

  Returns the values in the order asked, false where absent or lapsed.
]]
--- @include "time"
--- @include "records"

local now = now_ms()
local out = {}
for i = 1, #ARGV do out[i] = record_live(KEYS[1], KEYS[2], ARGV[i], now) or false end
return out
