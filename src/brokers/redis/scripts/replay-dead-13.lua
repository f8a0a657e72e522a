--[[
  Moves dead jobs of one queue back to the back of their ready lists, delivery count reset.

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     wake list                    {p:q}:wake
  KEYS[12]     dead hash                    {p:q}:dead
  KEYS[13]     dead index                   {p:q}:dead:at

  ARGV[1]      'ids' (the ids follow) or 'oldest' (ARGV[2] is how many of the oldest to replay)

  Returns how many jobs were replayed.
]]
--- @include "entry"
--- @include "wake"

local ids
if ARGV[1] == 'oldest' then
  ids = redis.call('ZRANGE', KEYS[13], 0, tonumber(ARGV[2]) - 1)
else
  ids = {}
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for i = 1, #ids do
  local id = ids[i]
  local v = redis.call('HGET', KEYS[12], id)
  if v then
    local _, p, _, _, body = parse_dead(v)
    redis.call('RPUSH', KEYS[p + 1], make_entry(0, id, body))
    redis.call('HDEL', KEYS[12], id)
    redis.call('ZREM', KEYS[13], id)
    n = n + 1
  end
end
if n > 0 then wake(KEYS[11]) end
return n
