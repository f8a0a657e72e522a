-- Moves what a script took but cannot read (an entry not in the broker's framing) to the queue's
-- dead-letter store, its raw bytes kept as the body, under a fresh id "malformed-<n>" (n from the
-- queue's counter): the bytes may hold no readable id, or one a live job or a dead one has.
-- Not counted as settled (it never was a job) and no id leaves the live set: a raw entry was never
-- in it, and one that looks like a live job's id belongs to that job.
-- Uses KEYS[16] seq, KEYS[17] dead, KEYS[18] dead index.
--- @include "deadindex"
local function bury_malformed(now, p, raw, reason)
  local id = 'malformed-' .. redis.call('INCR', KEYS[16])
  redis.call('HSET', KEYS[17], id, make_dead(now, p, 0, reason, raw))
  redis.call('ZADD', KEYS[18], dead_score(KEYS[18], now), id)
end
