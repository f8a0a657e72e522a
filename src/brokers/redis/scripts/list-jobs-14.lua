--[[
  Reads one page of a queue's jobs in one state, without taking them (the dashboard's lists).
  Read-only. Counts and order match stats-16.lua and reserve: delayed jobs already due count as
  waiting.

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     returned zset                {p:q}:returned
  KEYS[12]     delayed zset                 {p:q}:delayed
  KEYS[13]     active hash                  {p:q}:active
  KEYS[14]     leases zset                  {p:q}:leases

  ARGV[1]  'waiting', 'delayed' or 'active'
  ARGV[2]  offset
  ARGV[3]  limit

  Returns { id, priority, deliveries, availableAt ('' for none), body, id, ... }.
  Waiting: priority 9 down to 0, each the returned jobs of that priority then its list (the order
  reserve takes them in), then the delayed jobs already due, by due time (a reserve moves them to
  the back of their list). Delayed: by due time. Active: by lease expiry. Malformed entries are
  skipped (a reserve dead-letters them).
]]
--- @include "time"
--- @include "entry"

local state = ARGV[1]
local skip = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now = now_ms()
local out = {}

local function put(id, p, d, at, body)
  local o = #out
  out[o + 1] = id
  out[o + 2] = p
  out[o + 3] = d
  out[o + 4] = at
  out[o + 5] = body
  want = want - 1
end

local function put_entry(e, p, at)
  local d, id, body = check_entry(e)
  if d then put(id, p, d, at, body) end
end

-- One segment of `n` entries read by `read(from, to)` (0-based, inclusive): skipped whole, or read
-- from where the offset falls.
local function segment(n, read)
  if want <= 0 then return end
  if skip >= n then
    skip = skip - n
    return
  end
  read(skip, math.min(n, skip + want) - 1)
  skip = 0
end

if want <= 0 then return out end

if state == 'waiting' then
  for p = 9, 0, -1 do
    local lo, hi = returned_score(p, 0), returned_score(p, PLACES) - 1
    segment(redis.call('ZCOUNT', KEYS[11], lo, hi), function(from, to)
      local es = redis.call('ZRANGEBYSCORE', KEYS[11], lo, hi, 'LIMIT', from, to - from + 1)
      for i = 1, #es do put_entry(es[i], p, '') end
    end)
    segment(redis.call('LLEN', KEYS[p + 1]), function(from, to)
      local es = redis.call('LRANGE', KEYS[p + 1], from, to)
      for i = 1, #es do put_entry(es[i], p, '') end
    end)
  end
  segment(redis.call('ZCOUNT', KEYS[12], '-inf', now), function(from, to)
    local ms = redis.call('ZRANGEBYSCORE', KEYS[12], '-inf', now, 'LIMIT', from, to - from + 1)
    for i = 1, #ms do put_entry(delayed_entry(ms[i]), string.byte(ms[i], 1) - 48, '') end
  end)
elseif state == 'delayed' then
  local ms = redis.call('ZRANGEBYSCORE', KEYS[12], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', skip, want)
  for i = 1, #ms, 2 do put_entry(delayed_entry(ms[i]), string.byte(ms[i], 1) - 48, ms[i + 1]) end
elseif state == 'active' then
  local ms = redis.call('ZRANGE', KEYS[14], skip, skip + want - 1, 'WITHSCORES')
  for i = 1, #ms, 2 do
    local id = lease_id(ms[i])
    local v = id and redis.call('HGET', KEYS[13], id)
    if v then
      local p, d, body = check_active(v)
      if p then put(id, p, d, ms[i + 1], body) end
    end
  end
end
return out
