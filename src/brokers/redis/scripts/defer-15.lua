--[[
  Defers deliveries of one queue: each job goes back unchanged (same body) to the delayed zset
  when there is a delay, else to the back of the ready list, and the deferred delivery is not
  counted (a job a limit held back was not run). A consumer is woken when a job became ready, or
  was delayed to before every other delayed job.

  KEYS[1..14]  the first 14 of reserve-20.lua (ready 0..9, delayed, wake, active, leases)
  KEYS[15]     the queue's counter   {p:q}:seq   (send tags: delayed in the same ms, due in order)

  ARGV         pairs: lease member "<token>:<id>", delay ms

  Returns one 1 (deferred) or 0 (stale token) per pair.
]]
--- @include "time"
--- @include "entry"
--- @include "wake"

local now = now_ms()
local out = {}
local any = false
local tag = 0
for i = 2, #ARGV, 2 do
  if tonumber(ARGV[i]) > 0 then tag = tag + 1 end
end
if tag > 0 then tag = redis.call('INCRBY', KEYS[15], tag) - tag end
for i = 1, #ARGV, 2 do
  local k = (i + 1) / 2
  out[k] = 0
  if redis.call('ZREM', KEYS[14], ARGV[i]) == 1 then
    local id = lease_id(ARGV[i])
    local v = redis.call('HGET', KEYS[13], id)
    if v then
      local p, d, body = parse_active(v)
      if d > 0 then d = d - 1 end
      local delay = tonumber(ARGV[i + 1])
      local e = make_entry(d, id, body)
      if delay > 0 then
        local head = earliest_due(KEYS[11])
        if not head or now + delay < head then any = true end
        tag = tag + 1
        redis.call('ZADD', KEYS[11], now + delay, p .. ':' .. send_tag(tag) .. e)
      else
        redis.call('RPUSH', KEYS[p + 1], e)
        any = true
      end
      redis.call('HDEL', KEYS[13], id)
      out[k] = 1
    end
  end
end
if any then wake(KEYS[12]) end
return out
