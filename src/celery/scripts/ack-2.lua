-- KEYS: unacked, unacked_index. ARGV: tags. Acknowledges: 1 per tag still filed, else 0.
local out = {}
for i = 1, #ARGV do
  out[i] = redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
return out
