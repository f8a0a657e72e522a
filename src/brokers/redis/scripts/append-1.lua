--[[
  Appends events to a bounded log, dropping the oldest beyond a length.

  KEYS[1]  stream   {p:events:<stream>}   entries with one field `d` holding the event

  ARGV[1]  most entries kept (integer >= 0), trimmed exactly
  ARGV[2..] events, oldest first

  Returns the ids given to the events.
]]

local max = tonumber(ARGV[1])
if not max or max < 0 then return redis.error_reply('ERR append: maxLen must be >= 0') end
local ids = {}
for i = 2, #ARGV do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i])
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', '=', math.floor(max))
return ids
