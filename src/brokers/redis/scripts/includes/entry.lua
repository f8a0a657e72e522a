-- A waiting job is one string: "<deliveries>:<bytes of id>:<id><body>".
-- A leased job is a field of the active hash: id -> "<priority>:<deliveries>:<body>".
-- A delayed job is a member of the delayed zset: "<priority>:<entry>".
local function make_entry(d, id, body)
  return d .. ':' .. #id .. ':' .. id .. body
end

local function parse_entry(e)
  local c1 = string.find(e, ':', 1, true)
  local c2 = string.find(e, ':', c1 + 1, true)
  local len = tonumber(string.sub(e, c1 + 1, c2 - 1))
  return tonumber(string.sub(e, 1, c1 - 1)), string.sub(e, c2 + 1, c2 + len), string.sub(e, c2 + len + 1)
end

local function parse_active(v)
  local c = string.find(v, ':', 3, true)
  return string.byte(v, 1) - 48, tonumber(string.sub(v, 3, c - 1)), string.sub(v, c + 1)
end

-- A lease member is "<token>:<id>".
local function lease_id(member)
  return string.sub(member, string.find(member, ':', 1, true) + 1)
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
