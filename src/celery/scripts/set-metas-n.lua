-- KEYS: meta keys. ARGV: four per key, in order: meta JSON, fence ('' for none), ready ('1'/'0'),
-- ttl ms ('' keeps). The records a worker settles together, in one call: each written unless
-- fenced off (includes/write-meta.lua). Returns 1 or 0 per key.
--- @include "write-meta"
local out = {}
for i = 1, #KEYS do
  local a = (i - 1) * 4
  out[i] = writeMeta(KEYS[i], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
end
return out
