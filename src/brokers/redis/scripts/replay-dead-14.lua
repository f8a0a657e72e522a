--[[
  Moves dead jobs of one queue back to the back of their ready lists, delivery count reset, in
  the order they failed (oldest first), whatever the order of the ids given. An entry whose id is
  live again in the queue (published anew meanwhile) stays dead.

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     wake list                    {p:q}:wake
  KEYS[12]     dead hash                    {p:q}:dead
  KEYS[13]     dead index                   {p:q}:dead:at
  KEYS[14]     live ids set                 {p:q}:ids

  ARGV[1]      'ids' (the ids follow) or 'oldest': ARGV[2] is how many of the oldest entries to
               look at, ARGV[3] how many of the oldest to pass over first (those left dead before)

  Returns { replayed, looked at, left dead because live }.
]]
--- @include "entry"
--- @include "wake"

local ids
if ARGV[1] == 'oldest' then
  local from = tonumber(ARGV[3])
  ids = redis.call('ZRANGE', KEYS[13], from, from + tonumber(ARGV[2]) - 1)
else
  -- The dead ones among the ids, each once, sorted as the index sorts them (score, then id).
  ids = {}
  local score, seen = {}, {}
  for i = 2, #ARGV do
    local id = ARGV[i]
    if not seen[id] then
      seen[id] = true
      local s = redis.call('ZSCORE', KEYS[13], id)
      if s then
        ids[#ids + 1] = id
        score[id] = tonumber(s)
      end
    end
  end
  table.sort(ids, function(a, b)
    if score[a] ~= score[b] then return score[a] < score[b] end
    return a < b
  end)
end
local n, live = 0, 0
for i = 1, #ids do
  local id = ids[i]
  local v = redis.call('HGET', KEYS[12], id)
  if v then
    if redis.call('SADD', KEYS[14], id) == 1 then
      local _, p, _, _, body = parse_dead(v)
      redis.call('RPUSH', KEYS[p + 1], make_entry(0, id, body))
      redis.call('HDEL', KEYS[12], id)
      redis.call('ZREM', KEYS[13], id)
      n = n + 1
    else
      live = live + 1
    end
  end
end
if n > 0 then wake(KEYS[11]) end
return { n, #ids, live }
