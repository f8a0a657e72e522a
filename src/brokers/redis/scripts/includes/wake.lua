-- The wake list holds at most one marker while the queue may have ready jobs; blocked consumers
-- BLPOP it. Whoever takes jobs and leaves some behind puts the marker back for the next one.
local function wake(key)
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
end
