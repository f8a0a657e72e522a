--[[
  Deletes the waiting and delayed jobs of one queue (leased ones stay).

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     delayed zset                 {p:q}:delayed
  KEYS[12]     wake list                    {p:q}:wake
  KEYS[13]     active hash                  {p:q}:active
  KEYS[14]     live ids set                 {p:q}:ids
  KEYS[15]     returned zset                {p:q}:returned

  Returns how many jobs were deleted.
]]
--- @include "batch"

local n = redis.call('ZCARD', KEYS[11]) + redis.call('ZCARD', KEYS[15])
for p = 1, 10 do
  n = n + redis.call('LLEN', KEYS[p])
end
redis.call('DEL', KEYS[15], unpack(KEYS, 1, 12))
-- Only leased jobs stay live: rebuild the index from them (cost per leased job, not per purged one).
redis.call('DEL', KEYS[14])
local active = redis.call('HKEYS', KEYS[13])
if #active > 0 then
  call_range('SADD', KEYS[14], active, 1, #active)
end
return n
