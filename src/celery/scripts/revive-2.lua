-- KEYS: dead, list. ARGV: id, payload. Moves a dead message back onto its list. 1, or 0.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
