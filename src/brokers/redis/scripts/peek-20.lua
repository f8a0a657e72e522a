--[[
  Makes due delayed jobs and expired leases of one queue ready, then counts ready jobs per
  priority. A reserve across several queues peeks at each (one pipeline), shares `max` out by
  priority, then reserves exactly that many from each. A malformed delayed member or leased
  value is dead-lettered on the way (see includes/promote.lua).

  KEYS[1..20]  as reserve-20.lua (ready 0..9, delayed, wake, active, leases, paused, seq, dead,
               dead index, live ids, returned)

  ARGV[1]      most delayed jobs (and most expired leases) to move

  Returns { now, nextDue, ready0, ready1, ..., ready9 } (all counts 0 and nextDue -1 when paused).
]]
--- @include "time"
--- @include "batch"
--- @include "entry"
--- @include "malformed"
--- @include "promote"

local now = now_ms()
promote(now, tonumber(ARGV[1]))
local out = { now, -1 }
if redis.call('EXISTS', KEYS[15]) == 1 then
  for p = 1, 10 do out[p + 2] = 0 end
  return out
end
local total = 0
for p = 1, 10 do
  local c = redis.call('LLEN', KEYS[p])
  out[p + 2] = c
  total = total + c
end
if redis.call('EXISTS', KEYS[20]) == 1 then
  for p = 0, 9 do
    local low = returned_score(p, 0)
    local c = redis.call('ZCOUNT', KEYS[20], low, '(' .. (low + PLACES))
    out[p + 3] = out[p + 3] + c
    total = total + c
  end
  -- Scores no script writes: counted where reserve-20.lua meets them (first, or last), so that a
  -- reserve comes to dead-letter them.
  local c = redis.call('ZCOUNT', KEYS[20], '-inf', '(0')
  out[12] = out[12] + c
  local c2 = redis.call('ZCARD', KEYS[20]) - redis.call('ZCOUNT', KEYS[20], '-inf', '(' .. (10 * PLACES))
  out[3] = out[3] + c2
  total = total + c + c2
end
if total == 0 then out[2] = next_due() end
return out
