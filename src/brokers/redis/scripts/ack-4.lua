--[[
  Acknowledges deliveries of one queue: the jobs leave the broker.

  KEYS[1]  active hash   {p:q}:active
  KEYS[2]  leases zset   {p:q}:leases
  KEYS[3]  settled hash  {p:q}:settled   throughput buckets
  KEYS[4]  live ids set  {p:q}:ids

  ARGV     lease members "<token>:<id>", one per delivery

  Returns a string of one '1' (done) or '0' (stale token, or a member repeated in the call:
  nothing changed) per ARGV entry.
]]
--- @include "batch"
--- @include "entry"
--- @include "time"
--- @include "settled"

-- Which leases are live: one ZMSCORE per slice of the batch, then the live ones leave together
-- (a ZREM per delivery cost the server a call each).
local n = #ARGV
local out, gone, done, seen = {}, {}, {}, {}
local i = 1
while i <= n do
  local j = math.min(i + 99, n)
  local scores = redis.call('ZMSCORE', KEYS[2], unpack(ARGV, i, j))
  for k = i, j do
    local m = ARGV[k]
    if scores[k - i + 1] and not seen[m] then
      seen[m] = true
      out[k] = '1'
      gone[#gone + 1] = m
      done[#done + 1] = lease_id(m)
    else
      out[k] = '0'
    end
  end
  i = j + 1
end
if #done > 0 then
  call_range('ZREM', KEYS[2], gone, 1, #gone)
  call_range('HDEL', KEYS[1], done, 1, #done)
  call_range('SREM', KEYS[4], done, 1, #done)
  count_settled(KEYS[3], now_ms(), #done)
end
return table.concat(out)
