-- The wake list holds at most one marker while the queue may have ready jobs; blocked consumers
-- BLPOP it. Whoever takes jobs and leaves some behind puts the marker back for the next one.
local function wake(key)
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
end

-- Epoch ms of the earliest delayed job, or nil. A delayed job added before it (or to an empty
-- set) is due sooner than any consumer blocked now plans to look again: they wait for the old
-- earliest due time, or for their whole window. Adding a marker wakes one of them to recompute.
local function earliest_due(key)
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return head[2] and tonumber(head[2])
end
