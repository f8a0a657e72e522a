-- A stored result is one string: "<1 if ready, else 0><highest fence written, or nothing>:<JSON>".
-- Values written before fences were kept ("<flag><JSON>") read as unfenced.
-- Returns the flag and the fence (nil when none), or nil when the key is absent.
local function result_head(key)
  -- The range as strings: a number argument of redis.call is printed with %.17g (Redis 7.0).
  local head = redis.call('GETRANGE', key, '0', '23')
  if head == '' then return nil end
  return string.sub(head, 1, 1), tonumber(string.match(head, '^(%d*):', 2))
end
