--[[
  Reads dead-letter entries of one queue, newest first.

  KEYS[1]  dead hash    {p:q}:dead
  KEYS[2]  dead index   {p:q}:dead:at

  ARGV[1]  offset
  ARGV[2]  limit

  Returns { id, failedAt, priority, deliveries, reason, body, id, ... }.
]]
--- @include "entry"

local offset = tonumber(ARGV[1])
local ids = redis.call('ZREVRANGE', KEYS[2], offset, offset + tonumber(ARGV[2]) - 1)
local out = {}
if #ids == 0 then return out end
for i = 1, #ids do
  local v = redis.call('HGET', KEYS[1], ids[i])
  if v then
    local failed_at, p, d, reason, body = parse_dead(v)
    local o = #out
    out[o + 1] = ids[i]
    out[o + 2] = failed_at
    out[o + 3] = p
    out[o + 4] = d
    out[o + 5] = reason
    out[o + 6] = body
  end
end
return out
