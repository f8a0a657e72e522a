-- Calls `cmd key list[from..to]` in slices small enough for unpack() (Lua's C stack holds ~8000).
-- Slices are even-sized, so (score, member) and (field, value) pairs never split.
local function call_range(cmd, key, list, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 3999, to)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end
