--[[
  Appends events to a bounded log, dropping the oldest beyond a length.

  KEYS[1]  stream   {p:events:<stream>}   entries with one field `d` holding the event
  KEYS[2]  counter  {p:events:<stream>}:n  the events the stream holds (includes/eventlog.lua)
  KEYS[3]  counts   {p:events:<stream>}:c  the events of each entry

  ARGV[1]  most events kept (integer >= 0); the oldest whole entries go
  ARGV[2]  the events, oldest first, each as "<byte length>:<bytes>" one after another (one
           argument for a whole batch: the client frames one string instead of one per event)

  Returns the ids given to the events.
]]
--- @include "eventlog"

local max = tonumber(ARGV[1])
if not max or max < 0 then return redis.error_reply('ERR append: maxLen must be >= 0') end
local data = ARGV[2] or ''
local pos, size = 1, #data
local ids = {}
local total = log_open(KEYS[1], KEYS[2], KEYS[3])
while pos <= size do
  local colon = string.find(data, ':', pos, true)
  local len = colon and tonumber(string.sub(data, pos, colon - 1))
  if not len or len < 0 or colon + len > size then
    return redis.error_reply('ERR append: events are not framed as "<length>:<bytes>"')
  end
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'd', string.sub(data, colon + 1, colon + len))
  redis.call('RPUSH', KEYS[3], 1)
  pos = colon + len + 1
end
log_trim(KEYS[1], KEYS[2], KEYS[3], total + #ids, math.floor(max))
return ids
