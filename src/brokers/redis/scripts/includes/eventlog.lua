-- The event log's bound is counted in events, not entries. An entry holds one event (field `d`)
-- or several (field `n` their count first, then fields its writer chose: see
-- set-results-n.lua). Beside the stream, a counter holds how many events it holds and a list
-- the count of each entry, oldest first, so trimming reads small numbers, never the entries.

-- log_open: the events held now. Entries from before the list was kept (at the head) count one
-- each; a deleted stream (counter and list kept) counts none.
local function log_open(stream, counter, counts)
  local len = redis.call('XLEN', stream)
  local listed = redis.call('LLEN', counts)
  if len == 0 then
    if listed > 0 then redis.call('DEL', counts) end
    return 0
  end
  if listed > len then redis.call('LTRIM', counts, listed - len, -1) end
  local n = tonumber(redis.call('GET', counter))
  if not n or n < len then return len end
  return n
end

-- log_add: appends one entry of `n` events, its fields and values given as a list.
local function log_add(stream, counts, n, fields)
  redis.call('XADD', stream, '*', unpack(fields))
  redis.call('RPUSH', counts, n)
end

-- log_trim: with `total` events held, drops the oldest whole entries until at most `max` are
-- left, and stores the count.
local function log_trim(stream, counter, counts, total, max)
  if total > max then
    local len = redis.call('XLEN', stream)
    local unlisted = len - redis.call('LLEN', counts)
    -- Unlisted entries (from before the list was kept, at the head) hold one event each.
    local drop, listed = math.max(0, math.min(unlisted, total - max)), 0
    total = total - drop
    while total > max do
      local got = redis.call('LRANGE', counts, listed, listed + 63)
      if #got == 0 then
        total = 0
        break
      end
      for _, c in ipairs(got) do
        if total <= max then break end
        total, drop, listed = total - (tonumber(c) or 1), drop + 1, listed + 1
      end
    end
    if drop >= len then
      redis.call('DEL', stream, counts)
      total = 0
    else
      redis.call('XTRIM', stream, 'MAXLEN', '=', len - drop)
      if listed > 0 then redis.call('LTRIM', counts, listed, -1) end
    end
  end
  redis.call('SET', counter, total)
end
