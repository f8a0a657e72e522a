--[[
  Gives deliveries of one queue back: each job is ready again at once at its place in line (the
  returned zset: ahead of the jobs that joined its list after it, behind older ones), whatever
  order the deliveries are given back in. The released delivery is not counted. A ref repeated
  in the batch is stale after its first entry.

  KEYS[1]  active hash     {p:q}:active     id -> "<priority>.<place>:<deliveries>:<body>"
  KEYS[2]  leases zset     {p:q}:leases     "<token>:<id>" scored by expiry
  KEYS[3]  returned zset   {p:q}:returned   entries scored by priority and place
  KEYS[4]  wake list       {p:q}:wake

  ARGV     lease members "<token>:<id>"

  Returns one 1 (released) or 0 (stale token) per member.
]]
--- @include "entry"
--- @include "wake"

local out = {}
local any = false
for i = 1, #ARGV do
  out[i] = 0
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    local id = lease_id(ARGV[i])
    local v = redis.call('HGET', KEYS[1], id)
    if v then
      local p, d, body, place = parse_active(v)
      if d > 0 then d = d - 1 end
      hand_back(KEYS[3], p, place, ARGV[i], d, id, body)
      redis.call('HDEL', KEYS[1], id)
      out[i] = 1
      any = true
    end
  end
end
if any then wake(KEYS[4]) end
return out
