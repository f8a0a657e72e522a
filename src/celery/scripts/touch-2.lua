-- KEYS: unacked, unacked_index. ARGV: score (seconds), tags.
-- Moves the time of filed messages (lease extension, or a future time for a delay: a message
-- is restored once score + visibility timeout has passed). 1 per tag still filed, else 0.
local out = {}
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
