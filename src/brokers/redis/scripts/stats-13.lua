--[[
  Counts the jobs of one queue in O(log n): no scans.

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     delayed zset                 {p:q}:delayed
  KEYS[12]     active hash                  {p:q}:active
  KEYS[13]     dead index                   {p:q}:dead:at

  Returns { waiting, delayed, active, dead }; delayed jobs already due count as waiting.
]]
--- @include "time"

local waiting = 0
for p = 1, 10 do
  waiting = waiting + redis.call('LLEN', KEYS[p])
end
local delayed = redis.call('ZCARD', KEYS[11])
local due = 0
if delayed > 0 then
  due = redis.call('ZCOUNT', KEYS[11], '-inf', now_ms())
end
return { waiting + due, delayed - due, redis.call('HLEN', KEYS[12]), redis.call('ZCARD', KEYS[13]) }
