-- writeMeta(key, meta JSON, fence ('' for none), ready ('1'/'0'), ttl ms ('' keeps)): writes
-- unless fenced off (a lower fence, or a state that is not ready over a ready one of the same or
-- a higher fence) and publishes what it wrote on the key's channel. Returns 1 or 0.
local function writeMeta(key, meta, fence, ready, ttl)
  local cur = redis.call('GET', key)
  local nf = tonumber(fence)
  if cur then
    local ok, m = pcall(cjson.decode, cur)
    if ok and type(m) == 'table' then
      local cf = type(m.celeriac) == 'table' and tonumber(m.celeriac.fence) or nil
      local done = m.status == 'SUCCESS' or m.status == 'FAILURE' or m.status == 'REVOKED'
      if nf and cf and nf < cf then return 0 end
      if ready == '0' and done and not (nf and cf and nf > cf) then return 0 end
    end
  end
  if ttl ~= '' then
    redis.call('SET', key, meta, 'PX', ttl)
  else
    redis.call('SET', key, meta)
  end
  redis.call('PUBLISH', key, meta)
  return 1
end
