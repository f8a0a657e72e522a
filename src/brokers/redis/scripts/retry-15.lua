--[[
  Re-queues deliveries of one queue with a new body: to the delayed zset when there is a delay,
  else to the back of the ready list. The delivery count is kept. A consumer is woken when a job
  became ready, or was delayed to before every other delayed job (it recomputes its wait).

  KEYS[1..14]  the first 14 of reserve-20.lua (ready 0..9, delayed, wake, active, leases)
  KEYS[15]     the queue's counter   {p:q}:seq   (send tags: delayed in the same ms, due in order)

  ARGV         triples: lease member "<token>:<id>", delay ms, new body

  Returns one 1 (re-queued) or 0 (stale token) per triple.
]]
--- @include "time"
--- @include "entry"
--- @include "wake"

local now = now_ms()
local out = {}
local any = false
-- One counter value per delayed item, drawn at once; those of stale refs go unused.
local tag = 0
for i = 2, #ARGV, 3 do
  if tonumber(ARGV[i]) > 0 then tag = tag + 1 end
end
if tag > 0 then tag = redis.call('INCRBY', KEYS[15], tag) - tag end
for i = 1, #ARGV, 3 do
  local k = (i + 2) / 3
  out[k] = 0
  if redis.call('ZREM', KEYS[14], ARGV[i]) == 1 then
    local id = lease_id(ARGV[i])
    local v = redis.call('HGET', KEYS[13], id)
    if v then
      local p, d = parse_active(v)
      local delay = tonumber(ARGV[i + 1])
      local e = make_entry(d, id, ARGV[i + 2])
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
