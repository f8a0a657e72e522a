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
           then, with events: most events the log keeps; one character per record: '0' no
           event, '1' an event, or nothing when every record has one; then for each 32 records
           with an event, in order, two arguments: their hints (recordEventHint in core/events.ts) joined by newlines, an empty hint
           being the one before it again, and their outcome lines joined by newlines (one per
           record, see outcomes.ts).
           Each 32 records with an event make one entry of the log: `n` the events it holds,
           `h` the hints and `c` the lines, as they came. Readers rebuild one event per line
           (coordination.ts, outcomeEntryText): the outcome events ride on the result write, and
           the worker builds and sends no event of its own for them. The line of a record dropped
           by its fence is kept, marked by a leading '-': readers skip it, and lines and hints
           stay paired. A write that takes the log past its bound trims it to 90 % of the bound.

  Stored value: see includes/result.lua. Returns how many records were written.
]]
--- @include "result"
--- @include "eventlog"

local n = #KEYS
local stream, counter, counts, max, flags
if #ARGV ~= 4 * n then
  n = n - 3
  if n < 0 or #ARGV < 4 * n + 2 then
    return redis.error_reply('ERR set-results: ' .. #ARGV .. ' arguments for ' .. #KEYS .. ' keys')
  end
  stream, counter, counts = KEYS[n + 1], KEYS[n + 2], KEYS[n + 3]
  max, flags = tonumber(ARGV[4 * n + 1]), ARGV[4 * n + 2]
  if not max or max < 0 then return redis.error_reply('ERR set-results: maxLen must be >= 0') end
  if flags == '' then flags = nil end
  if flags and #flags ~= n then
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
local written, ok = 0, {}
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
    ok[i] = true
  end
end
if stream then
  local total = log_open(stream, counter, counts)
  local added, e, i = 0, 4 * n + 2, 0
  while true do
    local recs, kept = {}, 0
    while #recs < 32 and i < n do
      i = i + 1
      if not flags or string.byte(flags, i) ~= 48 then
        recs[#recs + 1] = i
        if ok[i] then kept = kept + 1 end
      end
    end
    if #recs == 0 then break end
    local hints, lines = ARGV[e + 1], ARGV[e + 2]
    e = e + 2
    if not lines then return redis.error_reply('ERR set-results: fewer event arguments than events') end
    if kept < #recs then
      local out, at = {}, 1
      for _, r in ipairs(recs) do
        local nl = string.find(lines, '\n', at, true)
        local line = string.sub(lines, at, (nl or 0) - 1)
        out[#out + 1] = ok[r] and line or ('-' .. line)
        at = nl and nl + 1 or #lines + 1
      end
      lines = table.concat(out, '\n')
    end
    if kept > 0 then
      log_add(stream, counts, kept, { 'n', kept, 'h', hints, 'c', lines })
      added = added + kept
    end
  end
  -- Past the bound, trimmed to 90 % of it: a log at its bound is then trimmed once in many
  -- writes, not on every one, and never holds more than the bound.
  if total + added > max then
    log_trim(stream, counter, counts, total + added, math.floor(max * 0.9))
  else
    redis.call('SET', counter, total + added)
  end
end
return written
