--[[
  Extends live leases of one queue by ARGV[1] ms from now.

  KEYS[1]  leases zset   {p:q}:leases

  ARGV[1]  lease ms
  ARGV[2..] lease members "<token>:<id>"

  Returns one 1 (extended) or 0 (stale token) per member.
]]
--- @include "time"

local expiry = now_ms() + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
