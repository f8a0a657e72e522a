--[[
  Moves deliveries of one queue to its dead-letter store with a reason.

  KEYS[1]  active hash     {p:q}:active
  KEYS[2]  leases zset     {p:q}:leases
  KEYS[3]  dead hash       {p:q}:dead      id -> "<failedAt>:<priority>:<deliveries>:<bytes of reason>:<reason><body>"
  KEYS[4]  dead index      {p:q}:dead:at   id scored by failedAt (see includes/deadindex.lua)
  KEYS[5]  settled hash    {p:q}:settled   throughput buckets
  KEYS[6]  live ids set    {p:q}:ids

  ARGV     pairs: lease member "<token>:<id>", reason

  Returns one 1 (dead-lettered) or 0 (stale token) per pair. The batch fails in its order: it is
  listed, pruned and replayed so.
]]
--- @include "time"
--- @include "entry"
--- @include "settled"
--- @include "deadindex"

local now = now_ms()
local out, moved = {}, 0
for i = 1, #ARGV, 2 do
  local k = (i + 1) / 2
  out[k] = 0
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    local id = lease_id(ARGV[i])
    local v = redis.call('HGET', KEYS[1], id)
    if v then
      local p, d, body = parse_active(v)
      redis.call('HSET', KEYS[3], id, make_dead(now, p, d, ARGV[i + 1], body))
      redis.call('ZADD', KEYS[4], dead_score(KEYS[4], now), id)
      redis.call('HDEL', KEYS[1], id)
      redis.call('SREM', KEYS[6], id)
      out[k] = 1
      moved = moved + 1
    end
  end
end
count_settled(KEYS[5], now, moved)
return out
