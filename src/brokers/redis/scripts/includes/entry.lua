-- A waiting job is one string: "<deliveries>:<bytes of id>:<id><body>".
-- A leased job is a field of the active hash: id -> "<priority>:<deliveries>:<body>".
-- A delayed job is a member of the delayed zset: "<priority>:<entry>".
local function make_entry(d, id, body)
  return d .. ':' .. #id .. ':' .. id .. body
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

-- Splits an active-hash value into priority, deliveries and body; nil and why when malformed.
local function check_active(v)
  local p, ds, at = string.match(v, '^(%d):(%d+):()')
  if not p then return nil, 'not "<priority 0-9>:<deliveries>:<body>"' end
  if #ds > MAX_COUNT_DIGITS then return nil, 'delivery count of ' .. #ds .. ' digits is out of range' end
  return tonumber(p), tonumber(ds), string.sub(v, at)
end

local function parse_active(v)
  local c = string.find(v, ':', 3, true)
  return string.byte(v, 1) - 48, tonumber(string.sub(v, 3, c - 1)), string.sub(v, c + 1)
end

-- A lease member is "<token>:<id>" (nil when it has no ':').
local function lease_id(member)
  local c = string.find(member, ':', 1, true)
  return c and string.sub(member, c + 1)
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
