--[[
  Writes a batch of task results, record by record:
  - a fenced record whose fence is lower than the stored one is dropped (a stale delivery);
  - a record that is not ready (STARTED, RETRY) never replaces a ready one (SUCCESS, FAILURE,
    REVOKED) unless its fence is higher (the job runs again after a replay). An unfenced record
    counts as lower than any fence.
  The highest fence written is kept with the record. Ready records are published on a channel
  named like their key, which wakes `wait()`.

  KEYS     one result key per record   <prefix>:result:<id>  (any number)

  ARGV     quadruples per key: '1' (ready) or '0', fence or '' (none), expiry epoch ms or '0'
           (kept), record JSON

  Stored value: see includes/result.lua. Returns how many records were written.
]]
--- @include "result"

for i = 1, #KEYS do
  local j = 4 * i - 3
  if (ARGV[j] ~= '0' and ARGV[j] ~= '1') or (ARGV[j + 1] ~= '' and not tonumber(ARGV[j + 1]))
    or not tonumber(ARGV[j + 2]) then
    return redis.error_reply('ERR set-results: malformed arguments for key ' .. i)
  end
end
local written = 0
for i = 1, #KEYS do
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
  end
end
return written
