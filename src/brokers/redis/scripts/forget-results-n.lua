--[[
  Forgets task results, each only while its stored fence is at most a limit, so forgetting an old
  FAILURE after a replay cannot erase the new run's state.

  KEYS     one result key per id   <prefix>:result:<id>  (any number)

  ARGV     one limit per key: the highest fence to forget, or '' (whatever it is)

  Returns how many records were removed.
]]
--- @include "result"

for i = 1, #KEYS do
  if ARGV[i] ~= '' and not tonumber(ARGV[i]) then
    return redis.error_reply('ERR forget-results: malformed limit for key ' .. i)
  end
end
local n = 0
for i = 1, #KEYS do
  if ARGV[i] == '' then
    n = n + redis.call('DEL', KEYS[i])
  else
    local flag, fence = result_head(KEYS[i])
    if flag and (fence == nil or fence <= tonumber(ARGV[i])) then
      n = n + redis.call('DEL', KEYS[i])
    end
  end
end
return n
