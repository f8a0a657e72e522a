--[[
  Deletes the waiting and delayed jobs of one queue (leased ones stay).

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     delayed zset                 {p:q}:delayed
  KEYS[12]     wake list                    {p:q}:wake

  Returns how many jobs were deleted.
]]

local n = redis.call('ZCARD', KEYS[11])
for p = 1, 10 do
  n = n + redis.call('LLEN', KEYS[p])
end
redis.call('DEL', unpack(KEYS))
return n
