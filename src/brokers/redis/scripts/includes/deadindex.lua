-- The dead index keeps the order jobs failed in. A dead job is scored by the ms it failed at, but
-- never at or below the newest score already there: jobs failing in the same millisecond (one
-- batch, or calls close together) go 1/1024 ms apart, in the order they failed, where equal
-- scores would sort by id. The fraction is exact in a double until the year 2248. Only a burst of
-- more than 1024 in one ms moves scores past their ms (by n/1024 ms), which only pruneDead's
-- `before` sees; failedAt itself is kept in the dead hash.
local DEAD_STEP = 1 / 1024
local dead_last = false

local function dead_score(key, now)
  if dead_last == false then
    local top = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
    dead_last = top[2] and tonumber(top[2]) or -1
  end
  local s = now
  if s <= dead_last then s = dead_last + DEAD_STEP end
  dead_last = s
  return s
end
