--[[
  Deletes old dead-letter entries of one queue (retention).

  KEYS[1]  dead hash    {p:q}:dead
  KEYS[2]  dead index   {p:q}:dead:at   id scored by failedAt

  ARGV[1]  delete entries that failed before this epoch ms; '' for no age limit
  ARGV[2]  keep at most this many entries, newest first; '' for no count limit

  Returns how many entries were deleted.
]]
--- @include "batch"

local before, keep = ARGV[1], ARGV[2]
if (before ~= '' and not tonumber(before)) or (keep ~= '' and (not tonumber(keep) or tonumber(keep) < 0)) then
  return redis.error_reply('ERR prune-dead: before and keep must be numbers or empty')
end
local n = 0
local function drop(ids)
  if #ids == 0 then return end
  call_range('HDEL', KEYS[1], ids, 1, #ids)
  call_range('ZREM', KEYS[2], ids, 1, #ids)
  n = n + #ids
end
if before ~= '' then
  drop(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. before))
end
if keep ~= '' then
  -- Oldest first: everything but the newest `keep`.
  drop(redis.call('ZRANGE', KEYS[2], 0, -tonumber(keep) - 1))
end
return n
