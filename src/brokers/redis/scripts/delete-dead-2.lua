--[[
  Deletes dead-letter entries of one queue.

  KEYS[1]  dead hash    {p:q}:dead
  KEYS[2]  dead index   {p:q}:dead:at

  ARGV[1]  'ids' (the ids follow) or 'all'

  Returns how many entries were deleted.
]]

if ARGV[1] == 'all' then
  local n = redis.call('ZCARD', KEYS[2])
  redis.call('DEL', KEYS[1], KEYS[2])
  return n
end
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
return n
