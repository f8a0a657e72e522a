-- Makes due delayed jobs ready (at the back of their list, ties in the order they were delayed)
-- and jobs whose lease expired ready again (in the returned zset at their place in line: ahead of
-- their list, as they are older). Costs O(log n) per moved job, at most `limit` of each.
-- A delayed member whose priority prefix is not one digit, or an active value not in its framing,
-- is dead-lettered (bury_malformed) instead, so one bad member never blocks the queue; the entry
-- after a good prefix is checked when it is popped. Everything is read and checked before the
-- first write.
-- Uses KEYS[1..10] ready, KEYS[11] delayed, KEYS[13] active, KEYS[14] leases, KEYS[16..20].
local function promote(now, limit)
  local due = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now, 'LIMIT', 0, limit)
  if #due > 0 then
    local by_priority, bad = {}, {}
    for i = 1, #due do
      local m = due[i]
      if string.find(m, '^%d:') then
        local p = string.byte(m, 1) - 48
        local list = by_priority[p]
        if not list then
          list = {}
          by_priority[p] = list
        end
        list[#list + 1] = delayed_entry(m)
      else
        bad[#bad + 1] = m
      end
    end
    for p, list in pairs(by_priority) do
      call_range('RPUSH', KEYS[p + 1], list, 1, #list)
    end
    for i = 1, #bad do
      bury_malformed(now, 0, bad[i], 'malformed delayed entry: its priority prefix is not one digit 0-9 and ":"')
    end
    call_range('ZREM', KEYS[11], due, 1, #due)
  end
  local expired = redis.call('ZRANGEBYSCORE', KEYS[14], '-inf', now, 'LIMIT', 0, limit)
  if #expired > 0 then
    for i = 1, #expired do
      local id = lease_id(expired[i])
      local v = id and redis.call('HGET', KEYS[13], id)
      if v then
        local p, d, body, place = check_active(v)
        if p then
          hand_back(KEYS[20], p, place, expired[i], d, id, body)
        else
          bury_malformed(now, 0, v, 'malformed leased entry of "' .. id .. '": ' .. d)
          redis.call('SREM', KEYS[19], id)
        end
        redis.call('HDEL', KEYS[13], id)
      end
    end
    call_range('ZREM', KEYS[14], expired, 1, #expired)
  end
end

-- Epoch ms of the next delayed job or lease expiry, -1 when there is none.
local function next_due()
  local a = redis.call('ZRANGE', KEYS[11], 0, 0, 'WITHSCORES')
  local b = redis.call('ZRANGE', KEYS[14], 0, 0, 'WITHSCORES')
  local t = -1
  if a[2] then t = tonumber(a[2]) end
  if b[2] then
    local x = tonumber(b[2])
    if t < 0 or x < t then t = x end
  end
  return t
end

local function any_ready()
  if redis.call('EXISTS', KEYS[20]) == 1 then return true end
  for p = 1, 10 do
    if redis.call('LLEN', KEYS[p]) > 0 then return true end
  end
  return false
end
