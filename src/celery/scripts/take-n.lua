-- KEYS: unacked, unacked_index, dead, list 1..n (in delivery order).
-- ARGV: now (seconds), max, then one queue name per list, then max fresh delivery tags.
-- Takes up to max messages from the right end of the lists, as kombu's BRPOP does, and files each
-- under a fresh tag in unacked as kombu does (`[payload, exchange, routing key]`, time in
-- unacked_index). A payload that is not a JSON object cannot be filed for kombu to restore; it
-- goes to the dead hash at once. Returns flat triples: list number (negative when dead-lettered),
-- tag, payload.
local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local lists = #KEYS - 3
local out, n = {}, 0
for i = 1, lists do
  while n < max do
    local p = redis.call('RPOP', KEYS[3 + i])
    if not p then break end
    n = n + 1
    local tag = ARGV[2 + lists + n]
    local ok, m = pcall(cjson.decode, p)
    if ok and type(m) == 'table' then
      local ex, rk = '', ARGV[2 + i]
      local di = type(m.properties) == 'table' and m.properties.delivery_info
      if type(di) == 'table' then
        if type(di.exchange) == 'string' then ex = di.exchange end
        if type(di.routing_key) == 'string' then rk = di.routing_key end
      end
      redis.call('HSET', KEYS[1], tag, '[' .. p .. ',' .. cjson.encode(ex) .. ',' .. cjson.encode(rk) .. ']')
      redis.call('ZADD', KEYS[2], now, tag)
      out[#out + 1] = i
    else
      redis.call('HSET', KEYS[3], tag, cjson.encode({ id = tag, queue = ARGV[2 + i],
        reason = 'the kombu envelope is not a JSON object', failedAt = math.floor(now * 1000), payload = p }))
      out[#out + 1] = -i
    end
    out[#out + 1] = tag
    out[#out + 1] = p
  end
  if n >= max then break end
end
return out
