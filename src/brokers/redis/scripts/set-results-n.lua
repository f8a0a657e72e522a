--[[
  Writes a batch of task results, record by record:
  - a fenced record whose fence is lower than the stored one is dropped (a stale delivery);
  - a record that is not ready (STARTED, RETRY) never replaces a ready one (SUCCESS, FAILURE,
    REVOKED) unless its fence is higher (the job runs again after a replay). An unfenced record
    counts as lower than any fence.
  The highest fence written is kept with the record. Ready records are published on a channel
  named like their key, which wakes `wait()`.

  KEYS     one result key per record   <prefix>:result:<id>  (any number)
           then, with events, the event log   {p:events:<stream>}  (one server only, not Cluster)

  ARGV     quadruples per record: '1' (ready) or '0', fence or '' (none), expiry epoch ms or '0'
           (kept), record JSON
           then, with events: most entries the log keeps (trimmed exactly), and one line per
           record joined by newlines: '' for no event, else the event's own fields (made by
           recordEventHint in core/events.ts). A record that is written and has a line adds the
           entry `d` = "R" .. line .. TAB .. the record JSON (without a long result that follows
           it on a line of its own), read back by parseEvents: the outcome event rides on the
           result write, and the worker builds and sends no event of its own.

  Stored value: see includes/result.lua. Returns how many records were written.
]]
--- @include "result"

local n = #KEYS
local stream, max, hints, at = nil, nil, nil, 1
if #ARGV == 4 * n - 2 then
  n = n - 1
  stream, max, hints = KEYS[n + 1], tonumber(ARGV[4 * n + 1]), ARGV[4 * n + 2]
  if not max or max < 0 then return redis.error_reply('ERR set-results: maxLen must be >= 0') end
elseif #ARGV ~= 4 * n then
  return redis.error_reply('ERR set-results: ' .. #ARGV .. ' arguments for ' .. n .. ' keys')
end
for i = 1, n do
  local j = 4 * i - 3
  if (ARGV[j] ~= '0' and ARGV[j] ~= '1') or (ARGV[j + 1] ~= '' and not tonumber(ARGV[j + 1]))
    or not tonumber(ARGV[j + 2]) then
    return redis.error_reply('ERR set-results: malformed arguments for key ' .. i)
  end
end
local written, events = 0, 0
for i = 1, n do
  local j = 4 * i - 3
  local hint = ''
  if hints then
    local nl = string.find(hints, '\n', at, true)
    hint = string.sub(hints, at, (nl or 0) - 1)
    at = nl and nl + 1 or #hints + 1
  end
  local flag, fence, expires = ARGV[j], tonumber(ARGV[j + 1]), ARGV[j + 2]
  local stored_flag, stored_fence = result_head(KEYS[i])
  local write = true
  if stored_flag then
    local higher = fence ~= nil and (stored_fence == nil or fence > stored_fence)
    if fence ~= nil and stored_fence ~= nil and fence < stored_fence then
      write = false
    elseif flag == '0' and stored_flag == '1' and not higher then
      write = false
    end
  end
  if write then
    local keep = fence
    if stored_fence ~= nil and (keep == nil or stored_fence > keep) then keep = stored_fence end
    local v = flag .. (keep and string.format('%d', keep) or '') .. ':' .. ARGV[j + 3]
    if expires ~= '0' then
      redis.call('SET', KEYS[i], v, 'PXAT', expires)
    else
      redis.call('SET', KEYS[i], v)
    end
    if flag == '1' then
      redis.call('PUBLISH', KEYS[i], v)
    end
    if hint ~= '' then
      local json = ARGV[j + 3]
      local cut = string.find(json, '\n', 1, true)
      if cut then json = string.sub(json, 1, cut - 1) end
      redis.call('XADD', stream, '*', 'd', 'R' .. hint .. '\t' .. json)
      events = events + 1
    end
    written = written + 1
  end
end
if events > 0 then redis.call('XTRIM', stream, 'MAXLEN', '=', math.floor(max)) end
return written
