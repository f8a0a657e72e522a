--[[
  Lets a lock go; the next acquire, by anyone, draws a new fence.

  KEYS[1]  lock hash   {p:lock:<name>}   owner, fence, until

  ARGV[1]  owner
  ARGV[2]  fence

  Returns 1 when it was held by this owner and fence, else 0. A lapsed lock of this owner and
  fence that no one took is let go too, and answers 0 (it was no longer held).
]]
--- @include "time"

local h = redis.call('HMGET', KEYS[1], 'owner', 'fence', 'until')
if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], 'owner', 'until')
if (tonumber(h[3]) or 0) > now_ms() then return 1 end
return 0
