--[[
  Acknowledges deliveries of one queue: the jobs leave the broker.

  KEYS[1]  active hash   {p:q}:active
  KEYS[2]  leases zset   {p:q}:leases
  KEYS[3]  settled hash  {p:q}:settled   throughput buckets
  KEYS[4]  live ids set  {p:q}:ids

  ARGV     lease members "<token>:<id>", one per delivery

  Returns a string of one '1' (done) or '0' (stale token: nothing changed) per ARGV entry: one
  reply element for the batch, not one a delivery.
]]
--- @include "batch"
--- @include "entry"
--- @include "time"
--- @include "settled"

-- A ZREM a delivery: it answers whether that lease was live. (One ZMSCORE for the batch cost the
-- server more on Redis 7.0: it prints every score with printf's %.17g.)
local out, done = {}, {}
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    out[i] = '1'
    done[#done + 1] = lease_id(ARGV[i])
  else
    out[i] = '0'
  end
end
if #done > 0 then
  call_range('HDEL', KEYS[1], done, 1, #done)
  call_range('SREM', KEYS[4], done, 1, #done)
  count_settled(KEYS[3], now_ms(), #done)
end
return table.concat(out)
