--[[
  Leases up to ARGV[1] ready jobs of one queue: highest priority first, oldest first (within a
  priority, jobs handed back before the list: they are older). Due delayed jobs and jobs whose
  lease expired are made ready first, so recovery needs no particular worker.
  Every entry taken is checked before anything is written: one that is not in the broker's
  framing, or whose id is already leased (or repeated in the batch), goes to the dead-letter store
  with the reason (its raw bytes as the body) and the valid entries beside it are leased.

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     delayed zset                 {p:q}:delayed
  KEYS[12]     wake list                    {p:q}:wake
  KEYS[13]     active hash                  {p:q}:active   id -> "<priority>.<place>:<deliveries>:<body>"
  KEYS[14]     leases zset                  {p:q}:leases   "<token>:<id>" scored by expiry
  KEYS[15]     paused flag                  {p:q}:paused
  KEYS[16]     token counter                {p:q}:seq
  KEYS[17]     dead hash                    {p:q}:dead
  KEYS[18]     dead index                   {p:q}:dead:at
  KEYS[19]     live ids set                 {p:q}:ids
  KEYS[20]     returned zset                {p:q}:returned   entries handed back, by priority and place

  ARGV[1]      max jobs to lease
  ARGV[2]      lease ms
  ARGV[3]      most delayed jobs (and most expired leases) to move per call

  Returns { now, nextDue, head, body, head, body, ... }, a head "<token>:<priority>:<deliveries>:<id>"
    and the body per job leased (two reply elements a job, not five: the client decodes fewer).
    now: the server's epoch ms; nextDue: when nothing was leased, epoch ms of the next delayed
    job or lease expiry (-1 if none or paused), else 0.
]]
--- @include "time"
--- @include "batch"
--- @include "entry"
--- @include "wake"
--- @include "malformed"
--- @include "promote"

local now = now_ms()
promote(now, tonumber(ARGV[3]))
if redis.call('EXISTS', KEYS[15]) == 1 then
  return { now, -1 }
end

local max = tonumber(ARGV[1])
local popped, prios, places, bad = {}, {}, {}, {}
local taken = 0
-- Jobs handed back, in the order they are to be delivered (priority 9 first, then place).
local back, bi, gone = {}, 1, {}
if max >= 1 and redis.call('EXISTS', KEYS[20]) == 1 then
  back = redis.call('ZRANGE', KEYS[20], 0, max - 1, 'WITHSCORES')
end
for p = 9, 0, -1 do
  if taken >= max then break end
  while bi < #back and taken < max do
    local bp, place = returned_of(back[bi + 1])
    if bp and bp < p then break end
    -- bp is p here, or nil: a score no script writes (below 0 sorts first, 10 ranks or more last).
    gone[#gone + 1] = back[bi]
    taken = taken + 1
    if bp then
      popped[#popped + 1] = back[bi]
      prios[#popped] = p
      places[#popped] = place
    else
      bad[#bad + 1] = { 0, back[bi], 'malformed returned entry: its score ' .. back[bi + 1]
        .. ' is not a priority and place' }
    end
    bi = bi + 2
  end
  local want = max - taken
  if want > 0 then
    local got = redis.call('LPOP', KEYS[p + 1], want)
    if got then
      for i = 1, #got do
        popped[#popped + 1] = got[i]
        prios[#popped] = p
      end
      taken = taken + #got
    end
  end
end
if #gone > 0 then call_range('ZREM', KEYS[20], gone, 1, #gone) end

if taken == 0 then
  redis.call('DEL', KEYS[12])
  return { now, next_due() }
end

-- Check every entry (string operations only: nothing here can raise) before the first write.
local ds, ids, bodies, ps, pls, seen = {}, {}, {}, {}, {}, {}
for i = 1, #popped do
  local d, id, body = check_entry(popped[i])
  local why
  if not d then
    why = 'malformed entry: ' .. id
  elseif seen[id] then
    why = 'duplicate id "' .. id .. '": another entry with this id was taken in the same batch'
  else
    seen[id] = true
    local k = #ids + 1
    ds[k], ids[k], bodies[k], ps[k], pls[k] = d, id, body, prios[i], places[i] or false
  end
  if why then bad[#bad + 1] = { prios[i], popped[i], why } end
end
-- An id already leased: two live copies would overwrite each other in the active hash.
local n = #ids
if n > 0 then
  local keep, i = {}, 1
  while i <= n do
    local j = math.min(i + 3999, n)
    local live = redis.call('HMGET', KEYS[13], unpack(ids, i, j))
    for k = i, j do
      if live[k - i + 1] then
        bad[#bad + 1] = { ps[k], make_entry(ds[k], ids[k], bodies[k]),
          'duplicate id "' .. ids[k] .. '": a job with this id is already leased' }
      else
        keep[#keep + 1] = k
      end
    end
    i = j + 1
  end
  if #keep < n then
    local d2, i2, b2, p2, l2 = {}, {}, {}, {}, {}
    for x = 1, #keep do
      local k = keep[x]
      d2[x], i2[x], b2[x], p2[x], l2[x] = ds[k], ids[k], bodies[k], ps[k], pls[k]
    end
    ds, ids, bodies, ps, pls, n = d2, i2, b2, p2, l2, #keep
  end
end

for i = 1, #bad do
  bury_malformed(now, bad[i][1], bad[i][2], bad[i][3])
end

if n == 0 then
  -- Everything taken was malformed: let a waiting consumer look again if more is ready.
  if any_ready() then
    wake(KEYS[12])
  else
    redis.call('DEL', KEYS[12])
  end
  return { now, next_due() }
end

-- Numbers go out as text made without Lua's own printing: Lua 5.1 prints a number with %.14g
-- (glibc's float path, a few thousand instructions each), also where a number is a redis.call
-- argument. Small ones come from this table; tokens and the expiry from %d (the integer path).
local SMALL = { [0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10' }
local base = redis.call('INCRBY', KEYS[16], n) - n
local expiry = string.format('%d', now + tonumber(ARGV[2]))
local out, fields, leases = { now, 0 }, {}, {}
for i = 1, n do
  local d = ds[i] + 1
  local id = ids[i]
  local token = string.format('%d', base + i)
  local p = ps[i]
  fields[2 * i - 1] = id
  -- Taken from its list, a job's place is its first token; handed back, it keeps the one it had.
  local ptext, dtext = SMALL[p] or p, SMALL[d] or d
  fields[2 * i] = make_active(ptext, pls[i] or token, dtext, bodies[i])
  leases[2 * i - 1] = expiry
  leases[2 * i] = token .. ':' .. id
  out[2 * i + 1] = token .. ':' .. ptext .. ':' .. dtext .. ':' .. id
  out[2 * i + 2] = bodies[i]
end
call_range('HSET', KEYS[13], fields, 1, 2 * n)
call_range('ZADD', KEYS[14], leases, 1, 2 * n)

if any_ready() then
  wake(KEYS[12])
else
  redis.call('DEL', KEYS[12])
end
return out
