--[[
  Lists the live records of one space.

  KEYS[1]  records hash     {p:lock:<space>}:rec
  KEYS[2]  expiries zset    {p:lock:<space>}:rex

  Returns { now, flat key/value pairs, flat key/expiry pairs of the records that lapse }; the
  caller drops the lapsed ones, sorts and limits.
]]
--- @include "time"

return { now_ms(), redis.call('HGETALL', KEYS[1]), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES') }
