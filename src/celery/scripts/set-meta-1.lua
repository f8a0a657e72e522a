-- KEYS: the meta key. ARGV: meta JSON, fence ('' for none), ready ('1'/'0'), ttl ms ('' keeps).
-- Writes unless fenced off: a lower fence, or a state that is not ready over a ready one of the
-- same or a higher fence. Publishes what it wrote on the key's channel. Returns 1 or 0.
local cur = redis.call('GET', KEYS[1])
local nf = tonumber(ARGV[2])
if cur then
  local ok, m = pcall(cjson.decode, cur)
  if ok and type(m) == 'table' then
    local cf = type(m.celeriac) == 'table' and tonumber(m.celeriac.fence) or nil
    local ready = m.status == 'SUCCESS' or m.status == 'FAILURE' or m.status == 'REVOKED'
    if nf and cf and nf < cf then return 0 end
    if ARGV[3] == '0' and ready and not (nf and cf and nf > cf) then return 0 end
  end
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
