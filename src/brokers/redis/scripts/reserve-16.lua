--[[
  Leases up to ARGV[1] ready jobs of one queue: highest priority first, oldest first. Due delayed
  jobs and jobs whose lease expired are made ready first, so recovery needs no particular worker.

  KEYS[1..10]  ready lists, priority 0..9   {p:q}:ready:N
  KEYS[11]     delayed zset                 {p:q}:delayed
  KEYS[12]     wake list                    {p:q}:wake
  KEYS[13]     active hash                  {p:q}:active   id -> "<priority>:<deliveries>:<body>"
  KEYS[14]     leases zset                  {p:q}:leases   "<token>:<id>" scored by expiry
  KEYS[15]     paused flag                  {p:q}:paused
  KEYS[16]     token counter                {p:q}:seq

  ARGV[1]      max jobs to lease
  ARGV[2]      lease ms
  ARGV[3]      most delayed jobs (and most expired leases) to move per call

  Returns { now, nextDue, id, token, priority, deliveries, body, id, token, ... }
    now: the server's epoch ms; nextDue: when nothing was leased, epoch ms of the next delayed
    job or lease expiry (-1 if none or paused), else 0.
]]
--- @include "time"
--- @include "batch"
--- @include "entry"
--- @include "wake"
--- @include "promote"

local now = now_ms()
promote(now, tonumber(ARGV[3]))
if redis.call('EXISTS', KEYS[15]) == 1 then
  return { now, -1 }
end

local max = tonumber(ARGV[1])
local popped, prios = {}, {}
for p = 9, 0, -1 do
  local want = max - #popped
  if want <= 0 then break end
  local got = redis.call('LPOP', KEYS[p + 1], want)
  if got then
    for i = 1, #got do
      popped[#popped + 1] = got[i]
      prios[#prios + 1] = p
    end
  end
end

local n = #popped
if n == 0 then
  redis.call('DEL', KEYS[12])
  return { now, next_due() }
end

local base = redis.call('INCRBY', KEYS[16], n) - n
local expiry = now + tonumber(ARGV[2])
local out, fields, leases = { now, 0 }, {}, {}
for i = 1, n do
  local d, id, body = parse_entry(popped[i])
  d = d + 1
  local token = tostring(base + i)
  local p = prios[i]
  fields[2 * i - 1] = id
  fields[2 * i] = p .. ':' .. d .. ':' .. body
  leases[2 * i - 1] = expiry
  leases[2 * i] = token .. ':' .. id
  local o = #out
  out[o + 1] = id
  out[o + 2] = token
  out[o + 3] = p
  out[o + 4] = d
  out[o + 5] = body
end
call_range('HSET', KEYS[13], fields, 1, 2 * n)
call_range('ZADD', KEYS[14], leases, 1, 2 * n)

if any_ready() then
  wake(KEYS[12])
else
  redis.call('DEL', KEYS[12])
end
return out
