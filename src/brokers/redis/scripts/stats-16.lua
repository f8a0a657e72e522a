--[[
  Counts the jobs of one queue in O(log n): no scans.

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     delayed zset                 {p:q}:delayed
  KEYS[12]     active hash                  {p:q}:active
  KEYS[13]     dead index                   {p:q}:dead:at
  KEYS[14]     settled hash                 {p:q}:settled   throughput buckets
  KEYS[15]     paused flag                  {p:q}:paused
  KEYS[16]     returned zset                {p:q}:returned

  Returns { waiting, delayed, active, dead, paused (0/1), now, count of bucket now-5 .. count of
  the current bucket }; delayed jobs already due count as waiting.
]]
--- @include "time"
--- @include "settled"

local now = now_ms()
local waiting = redis.call('ZCARD', KEYS[16])
for p = 1, 10 do
  waiting = waiting + redis.call('LLEN', KEYS[p])
end
local delayed = redis.call('ZCARD', KEYS[11])
local due = 0
if delayed > 0 then
  due = redis.call('ZCOUNT', KEYS[11], '-inf', now)
end
local b = math.floor(now / BUCKET_MS)
local fields = {}
for i = WINDOW - 1, 0, -1 do
  fields[#fields + 1] = b - i
end
local counts = redis.call('HMGET', KEYS[14], unpack(fields))
local out = { waiting + due, delayed - due, redis.call('HLEN', KEYS[12]), redis.call('ZCARD', KEYS[13]),
  redis.call('EXISTS', KEYS[15]), now }
for i = 1, #counts do
  out[#out + 1] = tonumber(counts[i]) or 0
end
return out
