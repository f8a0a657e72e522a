-- A waiting job is one string: "<deliveries>:<bytes of id>:<id><body>".
-- A leased job is a field of the active hash: id -> "<priority>.<place>:<deliveries>:<body>"
-- ("<priority>:<deliveries>:<body>" before places were kept: read as having none).
-- A job handed back (released, lease expired) is a member of the returned zset: the entry, scored
-- by returned_score(priority, place).
-- A delayed job is a member of the delayed zset: "<priority>:<send tag><entry>" (before send
-- tags: "<priority>:<entry>").
local function make_entry(d, id, body)
  return d .. ':' .. #id .. ':' .. id .. body
end

-- A job's place in line is the delivery counter value of its first delivery since it last joined
-- the back of a list: jobs are taken from the front, so those values follow the order of the line.
-- The returned zset is ordered by priority (9 first), then place. Places stay below PLACES: the
-- counter is printed by tostring, exact to 14 digits.
local PLACES = 1e14

local function returned_score(p, place)
  return (9 - p) * PLACES + place
end

-- Priority and place of a returned-zset score; nil for a score that no script writes.
local function returned_of(score)
  local s = tonumber(score)
  if not s or s ~= math.floor(s) or s < 0 or s >= 10 * PLACES then return nil end
  local rank = math.floor(s / PLACES)
  return 9 - rank, s - rank * PLACES
end

-- The send tag orders delayed jobs due in the same millisecond: the queue's counter at the time
-- they were delayed, its digit count as a letter first (a = 1 digit), so that members sort by it.
local function send_tag(n)
  local s = tostring(n)
  return string.char(96 + #s) .. s
end

-- The entry of a delayed member after its "<priority>:" prefix, without its send tag. A tag that
-- is not a letter a-n and that many digits is left in place: the entry then fails check_entry.
local function delayed_entry(m)
  local c = string.byte(m, 3)
  if c and c >= 97 and c <= 110 then
    local n = c - 96
    local digits = string.sub(m, 4, 3 + n)
    if #digits == n and string.find(digits, '^%d+$') then return string.sub(m, 4 + n) end
  end
  return string.sub(m, 3)
end

-- Whether s is valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF). The client
-- reads replies as UTF-8: an id that is not would come back changed, and then match no lease.
local function utf8_valid(s)
  local i, n = 1, #s
  while true do
    i = string.find(s, '[\128-\255]', i)
    if not i then return true end
    local c = string.byte(s, i)
    local k, lo, hi = 1, 128, 191
    if c >= 194 and c <= 223 then
      k = 1
    elseif c >= 224 and c <= 239 then
      k = 2
      if c == 224 then lo = 160 elseif c == 237 then hi = 159 end
    elseif c >= 240 and c <= 244 then
      k = 3
      if c == 240 then lo = 144 elseif c == 244 then hi = 143 end
    else
      return false
    end
    if i + k > n then return false end
    local b = string.byte(s, i + 1)
    if b < lo or b > hi then return false end
    for j = i + 2, i + k do
      b = string.byte(s, j)
      if b < 128 or b > 191 then return false end
    end
    i = i + k + 1
  end
end

-- Largest delivery count (digits) and id length (bytes) an entry may declare.
local MAX_COUNT_DIGITS = 9
local MAX_ID_BYTES = 9999

-- Splits a waiting entry into deliveries, id and body; for a malformed one returns nil and why.
-- Never raises: scripts call it on every entry they take, before writing anything.
local function check_entry(e)
  local ds, ls, at = string.match(e, '^(%d+):(%d+):()')
  if not ds then
    if e == '' then return nil, 'empty entry' end
    if not string.find(e, '^%d+:') then return nil, 'no "<deliveries>:" prefix (a count of digits)' end
    return nil, 'no "<bytes of id>:" framing after the delivery count'
  end
  if #ds > MAX_COUNT_DIGITS then return nil, 'delivery count of ' .. #ds .. ' digits is out of range' end
  local len = tonumber(ls)
  if #ls > 4 or len > MAX_ID_BYTES then return nil, 'id length over ' .. MAX_ID_BYTES .. ' bytes' end
  if len == 0 then return nil, 'empty id' end
  if at + len - 1 > #e then
    return nil, 'truncated: the id of ' .. len .. ' bytes runs past the end of the entry'
  end
  local id = string.sub(e, at, at + len - 1)
  if string.find(id, '[^\32-\126]') and not utf8_valid(id) then return nil, 'id is not valid UTF-8' end
  return tonumber(ds), id, string.sub(e, at + len)
end

local function make_active(p, place, d, body)
  return p .. '.' .. place .. ':' .. d .. ':' .. body
end

-- Splits an active-hash value into priority, deliveries, body and place (nil for a value written
-- without one); nil and why when malformed.
local function check_active(v)
  local p, place, ds, at = string.match(v, '^(%d)%.(%d+):(%d+):()')
  if not p then
    p, ds, at = string.match(v, '^(%d):(%d+):()')
    if not p then return nil, 'not "<priority 0-9>.<place>:<deliveries>:<body>"' end
  elseif #place > 14 then
    return nil, 'place of ' .. #place .. ' digits is out of range'
  end
  if #ds > MAX_COUNT_DIGITS then return nil, 'delivery count of ' .. #ds .. ' digits is out of range' end
  return tonumber(p), tonumber(ds), string.sub(v, at), tonumber(place)
end

-- As check_active, for values this broker wrote: priority, deliveries, body, place or nil.
local function parse_active(v)
  local c = string.find(v, ':', 3, true)
  local place
  if string.byte(v, 2) == 46 then place = tonumber(string.sub(v, 3, c - 1)) end
  if place then
    local c2 = string.find(v, ':', c + 1, true)
    return string.byte(v, 1) - 48, tonumber(string.sub(v, c + 1, c2 - 1)), string.sub(v, c2 + 1), place
  end
  return string.byte(v, 1) - 48, tonumber(string.sub(v, 3, c - 1)), string.sub(v, c + 1)
end

-- A lease member is "<token>:<id>" (nil when it has no ':').
local function lease_id(member)
  local c = string.find(member, ':', 1, true)
  return c and string.sub(member, c + 1)
end

-- The token of a lease member, as a number (0 when it is not one).
local function lease_token(member)
  local c = string.find(member, ':', 1, true)
  return c and tonumber(string.sub(member, 1, c - 1)) or 0
end

-- Where a job handed back goes: the returned zset at its place, or at its lease's token for a
-- value written before places were kept (the nearest known: its latest delivery).
local function hand_back(key, p, place, member, d, id, body)
  local at = place or lease_token(member)
  if at < 0 or at >= PLACES or at ~= math.floor(at) then at = 0 end
  redis.call('ZADD', key, returned_score(p, at), make_entry(d, id, body))
end

-- A dead job is a field of the dead hash:
-- id -> "<failedAt>:<priority>:<deliveries>:<bytes of reason>:<reason><body>".
local function make_dead(now, p, d, reason, body)
  return now .. ':' .. p .. ':' .. d .. ':' .. #reason .. ':' .. reason .. body
end

local function parse_dead(v)
  local c1 = string.find(v, ':', 1, true)
  local c3 = string.find(v, ':', c1 + 3, true)
  local c4 = string.find(v, ':', c3 + 1, true)
  local len = tonumber(string.sub(v, c3 + 1, c4 - 1))
  return tonumber(string.sub(v, 1, c1 - 1)), string.byte(v, c1 + 1) - 48, tonumber(string.sub(v, c1 + 3, c3 - 1)),
    string.sub(v, c4 + 1, c4 + len), string.sub(v, c4 + len + 1)
end
