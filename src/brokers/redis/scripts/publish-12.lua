--[[
  Enqueues a batch of jobs of one queue.

  KEYS[1..10]  ready lists, priority 0..9          {p:q}:ready:0 .. {p:q}:ready:9
  KEYS[11]     delayed zset (score: due epoch ms)  {p:q}:delayed
  KEYS[12]     wake list                           {p:q}:wake

  ARGV[1..10]  how many ready entries of priority 0..9 follow, in that order
  ARGV[11..]   the ready entries ("<deliveries>:<bytes of id>:<id><body>"), grouped by priority,
               then (score, "<priority>:<entry>") pairs for delayed jobs

  Returns the number of jobs stored.
]]
--- @include "batch"
--- @include "wake"

local pos = 11
local ready = 0
for p = 0, 9 do
  local c = tonumber(ARGV[p + 1])
  if c > 0 then
    call_range('RPUSH', KEYS[p + 1], ARGV, pos, pos + c - 1)
    pos = pos + c
    ready = ready + c
  end
end
local delayed = #ARGV - pos + 1
if delayed > 0 then
  call_range('ZADD', KEYS[11], ARGV, pos, #ARGV)
end
if ready > 0 then
  wake(KEYS[12])
end
return ready + delayed / 2
