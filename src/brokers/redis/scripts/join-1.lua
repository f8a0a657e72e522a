--[[
  Adds members to a join (a set) and counts it.

  KEYS[1]  join set   {p:join:<key>}

  ARGV[1]  ttl ms (integer > 0): the set lapses this long after its last change
  ARGV[2..] members

  Returns { distinct members after the call, how many of ARGV[2..] were new }.
]]
--- @include "batch"

local ttl = tonumber(ARGV[1])
if not ttl or ttl <= 0 then return redis.error_reply('ERR join: ttl must be > 0') end
local added = 0
local i = 2
while i <= #ARGV do
  local j = math.min(i + 3999, #ARGV)
  added = added + redis.call('SADD', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
if added > 0 then redis.call('PEXPIRE', KEYS[1], math.floor(ttl)) end
return { redis.call('SCARD', KEYS[1]), added }
