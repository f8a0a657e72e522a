--[[
  Gives deliveries of one queue back: each job goes to the front of its ready list at once, and
  the released delivery is not counted.

  KEYS[1..14]  the first 14 of reserve-19.lua (ready 0..9, delayed, wake, active, leases)

  ARGV         lease members "<token>:<id>"

  Returns one 1 (released) or 0 (stale token) per member.
]]
--- @include "entry"
--- @include "wake"

local out = {}
local any = false
-- Backwards, so that after the LPUSHes the first released job is the first delivered.
for i = #ARGV, 1, -1 do
  out[i] = 0
  if redis.call('ZREM', KEYS[14], ARGV[i]) == 1 then
    local id = lease_id(ARGV[i])
    local v = redis.call('HGET', KEYS[13], id)
    if v then
      local p, d, body = parse_active(v)
      if d > 0 then d = d - 1 end
      redis.call('LPUSH', KEYS[p + 1], make_entry(d, id, body))
      redis.call('HDEL', KEYS[13], id)
      out[i] = 1
      any = true
    end
  end
end
if any then wake(KEYS[12]) end
return out
