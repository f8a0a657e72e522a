--[[
  Extends a held lock.

  KEYS[1]  lock hash   {p:lock:<name>}   owner, fence, until

  ARGV[1]  owner
  ARGV[2]  fence
  ARGV[3]  ttl ms (integer > 0)

  Returns the new expiry (epoch ms), or 0 when the lock lapsed or changed hands.
]]
--- @include "time"

local ttl = tonumber(ARGV[3])
if not ttl or ttl <= 0 then return redis.error_reply('ERR lock-renew: ttl must be > 0') end
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'owner', 'fence', 'until')
if h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or (tonumber(h[3]) or 0) <= now then return 0 end
local expires = now + math.floor(ttl)
redis.call('HSET', KEYS[1], 'until', expires)
return expires
