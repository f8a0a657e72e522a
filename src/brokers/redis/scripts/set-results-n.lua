--[[
  Writes a batch of task results. A stored record in a ready state (SUCCESS, FAILURE, REVOKED) is
  never replaced by one that is not ready. Ready records are published on a channel named like
  their key, which wakes `wait()`.

  KEYS     one result key per record   <prefix>:result:<id>  (any number)

  ARGV     triples per key: '1' (ready) or '0', expiry epoch ms or '0' (kept), record JSON

  The stored value is the flag followed by the JSON. Returns how many records were written.
]]

local written = 0
for i = 1, #KEYS do
  local j = 3 * i - 2
  local flag, expires = ARGV[j], ARGV[j + 1]
  if flag == '1' or redis.call('GETRANGE', KEYS[i], 0, 0) ~= '1' then
    local v = flag .. ARGV[j + 2]
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
