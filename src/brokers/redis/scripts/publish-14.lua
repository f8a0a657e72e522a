--[[
  Enqueues a batch of jobs of one queue, skipping any whose id is live in the queue (waiting,
  delayed or leased), including a repeat within the batch.

  KEYS[1..10]  ready lists, priority 0..9          {p:q}:ready:0 .. {p:q}:ready:9
  KEYS[11]     delayed zset (score: due epoch ms)  {p:q}:delayed
  KEYS[12]     wake list                           {p:q}:wake
  KEYS[13]     live ids set                        {p:q}:ids
  KEYS[14]     the queue's counter                 {p:q}:seq   (send tags of delayed jobs)

  ARGV[1..10]  how many ready entries of priority 0..9 follow, in that order
  ARGV[11]     one character per job below, in order: "1" when its id was generated for it by
               celeriac (it cannot be live: no check, and it stays out of the live-id set, which
               costs memory per waiting job), "0" when the caller chose it (checked and indexed)
  ARGV[12..]   the ready entries ("<deliveries>:<bytes of id>:<id><body>"), grouped by priority,
               then (score, "<priority>:<entry>") pairs for delayed jobs; the client checked
               their ids (1..9999 bytes) and kept the first of each id only

  A delayed job is stored as "<priority>:<send tag><entry>": jobs due in the same millisecond
  become ready in the order they were sent (members of equal score sort by their bytes).

  A marker goes to the wake list when ready jobs were stored, or a delayed one due before every
  delayed job already there (so a blocked consumer recomputes its wait).

  Returns the number of jobs stored.
]]
--- @include "batch"
--- @include "entry"
--- @include "wake"

local flags = ARGV[11]
local k = 0
-- Whether the next job is new: a generated id, or a chosen one not live yet (then indexed). The
-- entries were framed by this broker's client (ids 1..9999 bytes), so a chosen id is read without
-- copying the body, and a generated one is not read at all.
local function is_new(e)
  k = k + 1
  if string.byte(flags, k) == 49 then return true end
  local ls, at = string.match(e, '^%d+:(%d+):()')
  return redis.call('SADD', KEYS[13], string.sub(e, at, at + tonumber(ls) - 1)) == 1
end

local pos = 12
local ready = 0
for p = 0, 9 do
  local c = tonumber(ARGV[p + 1])
  if c > 0 then
    local fresh = {}
    for i = pos, pos + c - 1 do
      if is_new(ARGV[i]) then fresh[#fresh + 1] = ARGV[i] end
    end
    if #fresh > 0 then
      call_range('RPUSH', KEYS[p + 1], fresh, 1, #fresh)
      ready = ready + #fresh
    end
    pos = pos + c
  end
end
local delayed, soonest = {}, nil
for i = pos, #ARGV, 2 do
  if is_new(string.sub(ARGV[i + 1], 3)) then
    delayed[#delayed + 1] = ARGV[i]
    delayed[#delayed + 1] = ARGV[i + 1]
    local at = tonumber(ARGV[i])
    if not soonest or at < soonest then soonest = at end
  end
end
local earlier = false
if #delayed > 0 then
  local tag = redis.call('INCRBY', KEYS[14], #delayed / 2) - #delayed / 2
  for i = 2, #delayed, 2 do
    local m = delayed[i]
    delayed[i] = string.sub(m, 1, 2) .. send_tag(tag + i / 2) .. string.sub(m, 3)
  end
  local head = earliest_due(KEYS[11])
  earlier = not head or soonest < head
  call_range('ZADD', KEYS[11], delayed, 1, #delayed)
end
if ready > 0 or earlier then
  wake(KEYS[12])
end
return ready + #delayed / 2
