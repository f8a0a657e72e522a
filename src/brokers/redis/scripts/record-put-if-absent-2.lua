--[[
  Writes one record only when its key is absent or lapsed.

  KEYS[1]  records hash     {p:lock:<space>}:rec
  KEYS[2]  expiries zset    {p:lock:<space>}:rex

  ARGV[1]  key
  ARGV[2]  value
  ARGV[3]  ttl ms ('' for none)

  Returns nil when written, else the value already there.
]]
--- @include "time"
--- @include "records"

local now = now_ms()
local there = record_live(KEYS[1], KEYS[2], ARGV[1], now)
if there then return there end
record_prune(KEYS[1], KEYS[2], now)
record_set(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], now)
return nil
