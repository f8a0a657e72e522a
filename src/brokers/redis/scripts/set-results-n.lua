--[[
  Writes a batch of task results, record by record:
  - a fenced record whose fence is lower than the stored one is dropped (a stale delivery);
  - a record that is not ready (STARTED, RETRY) never replaces a ready one (SUCCESS, FAILURE,
    REVOKED) unless its fence is higher (the job runs again after a replay). An unfenced record
    counts as lower than any fence.
  The highest fence written is kept with the record. Ready records are published on a channel
  named like their key, which wakes `wait()`.

  KEYS     one result key per record   <prefix>:result:<id>  (any number)
           then, with events, the event log, its counter and its entry counts
           {p:events:<stream>}  {p:events:<stream>}:n  {p:events:<stream>}:c
           (one server only, not Cluster; see includes/eventlog.lua)

  ARGV     quadruples per record: '1' (ready) or '0', fence or '' (none), expiry epoch ms or '0'
           (kept), record JSON
           then, with events: most events the log keeps; one character per record, '1' when it
           has an event line, else '0'; the count of lines of each entry, comma-separated; and
           the entries, each up to 32 lines joined by newlines, one line per record marked '1',
           in order. A line is "R" .. recordEventHint (core/events.ts) .. TAB .. the record JSON
           (without a long result), read back by parseEvents: the outcome events ride on the
           result write, and the worker builds and sends no event of its own for them. The
           entries go in as they are when every marked record is written (no line is copied
           here); a record dropped by its fence takes its line out of its entry.

  Stored value: see includes/result.lua. Returns how many records were written.
]]
--- @include "result"
--- @include "eventlog"

local n = #KEYS
local stream, counter, counts, max, flags
if #ARGV ~= 4 * n then
  n = n - 3
  if n < 0 or #ARGV < 4 * n + 3 then
    return redis.error_reply('ERR set-results: ' .. #ARGV .. ' arguments for ' .. #KEYS .. ' keys')
  end
  stream, counter, counts = KEYS[n + 1], KEYS[n + 2], KEYS[n + 3]
  max, flags = tonumber(ARGV[4 * n + 1]), ARGV[4 * n + 2]
  if not max or max < 0 then return redis.error_reply('ERR set-results: maxLen must be >= 0') end
  if #flags ~= n then
    return redis.error_reply('ERR set-results: ' .. #flags .. ' event flags for ' .. n .. ' records')
  end
end
for i = 1, n do
  local j = 4 * i - 3
  if (ARGV[j] ~= '0' and ARGV[j] ~= '1') or (ARGV[j + 1] ~= '' and not tonumber(ARGV[j + 1]))
    or not tonumber(ARGV[j + 2]) then
    return redis.error_reply('ERR set-results: malformed arguments for key ' .. i)
  end
end
local written, dropped = 0, false
for i = 1, n do
  local j = 4 * i - 3
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
    written = written + 1
  elseif flags and string.byte(flags, i) == 49 then
    dropped = true
    flags = string.sub(flags, 1, i - 1) .. 'x' .. string.sub(flags, i + 1)
  end
end
if flags and #ARGV > 4 * n + 3 then
  local total = log_open(stream, counter, counts)
  local added, e, at = 0, 0, 0
  for c in string.gmatch(ARGV[4 * n + 3], '%d+') do
    e = e + 1
    local data, lines = ARGV[4 * n + 3 + e], tonumber(c)
    if not data then return redis.error_reply('ERR set-results: fewer event entries than counts') end
    if dropped then
      -- Lines in order of the records marked '1' (or 'x': not written, its line goes).
      local kept = {}
      for line in string.gmatch(data, '[^\n]+') do
        repeat at = at + 1 until at > n or string.byte(flags, at) ~= 48
        if string.byte(flags, at) ~= 120 then kept[#kept + 1] = line end
      end
      lines, data = #kept, table.concat(kept, '\n')
    end
    if lines > 0 then
      log_add(stream, counts, lines, data)
      added = added + lines
    end
  end
  log_trim(stream, counter, counts, total + added, math.floor(max))
end
return written
