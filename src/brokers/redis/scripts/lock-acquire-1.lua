--[[
  Takes a lock when it is free or has lapsed; a call by its current owner renews it.

  KEYS[1]  lock hash   {p:lock:<name>}   owner, fence, until (epoch ms). Never expires: its fence
                                         counter must outlive every holder.

  ARGV[1]  owner
  ARGV[2]  ttl ms (integer > 0)

  Returns { fence, expiresAt }, or nil when another owner holds it. The fence grows (HINCRBY)
  only when the lock changes hands: a renewal, or a re-take by the same owner after it lapsed with
  no one else in between, keeps it.
]]
--- @include "time"

local ttl = tonumber(ARGV[2])
if not ttl or ttl <= 0 then return redis.error_reply('ERR lock-acquire: ttl must be > 0') end
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'owner', 'fence', 'until')
local owner, fence, till = h[1], tonumber(h[2]) or 0, tonumber(h[3]) or 0
if owner and owner ~= ARGV[1] and till > now then return nil end
if owner ~= ARGV[1] then fence = redis.call('HINCRBY', KEYS[1], 'fence', 1) end
local expires = now + math.floor(ttl)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', expires)
return { fence, expires }
