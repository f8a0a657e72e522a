--[[
  Takes tokens from a token bucket, on the server's clock.

  KEYS[1]  bucket hash   {p:bucket:<key>}   tokens, at (epoch ms, fractional). Expires when it
                                            would be full again: a missing bucket is a full one.

  ARGV[1]  tokens to take (> 0, at most the burst)
  ARGV[2]  rate: tokens added per ARGV[3] ms (> 0)
  ARGV[3]  per ms (> 0)
  ARGV[4]  burst: most tokens the bucket holds (> 0)

  Returns 0 when the tokens were taken, else the ms until they would be there (nothing taken).
]]

local n, rate, per, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not (n and rate and per and burst) or n <= 0 or rate <= 0 or per <= 0 or burst < n then
  return redis.error_reply('ERR take: need 0 < n <= burst, rate > 0, per > 0')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if h[1] then
  tokens = math.min(burst, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * rate / per)
end
if tokens < n then
  return math.ceil((n - tokens) * per / rate)
end
tokens = tokens - n
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * per / rate) + 1)
return 0
