/**
 * The Lua scripts of the Celery Redis layout, one operation each, atomic on the server. They
 * keep kombu's invariant: a message is either in a queue list or in `unacked` (with its time in
 * `unacked_index`), or in our dead-letter hash; never in two, never in none.
 */
import { createHash } from 'node:crypto'
import type { LuaScript } from '../brokers/redis/scripts.generated.js'

function lua(name: string, keys: number | null, source: string): LuaScript {
  return { name, keys, sha: createHash('sha1').update(source).digest('hex'), source }
}

/**
 * KEYS: unacked, unacked_index, dead, list 1..n (in delivery order).
 * ARGV: now (seconds), max, then one queue name per list, then max fresh delivery tags.
 * Takes up to max messages from the right end of the lists, as kombu's BRPOP does, and files each
 * under a fresh tag in unacked as kombu does (`[payload, exchange, routing key]`, time in
 * unacked_index). A payload that is not a JSON object cannot be filed for kombu to restore; it
 * goes to the dead hash at once. Returns flat triples: list number (negative when dead-lettered),
 * tag, payload.
 */
export const take = lua(
  'celery-take',
  null,
  `
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
`,
)

/**
 * KEYS: unacked, unacked_index, list. ARGV: tag, payload.
 * Puts a filed message back at the right end of its list (next out), as kombu's restore does,
 * if it is still filed under tag. Returns 1, or 0 when the tag is gone.
 */
export const restore = lua(
  'celery-restore',
  3,
  `
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[3], ARGV[2])
return 1
`,
)

/** KEYS: unacked, unacked_index. ARGV: tags. Acknowledges: 1 per tag still filed, else 0. */
export const ack = lua(
  'celery-ack',
  2,
  `
local out = {}
for i = 1, #ARGV do
  out[i] = redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
return out
`,
)

/**
 * KEYS: unacked, unacked_index. ARGV: score (seconds), tags.
 * Moves the time of filed messages (lease extension, or a future time for a delay: a message
 * is restored once score + visibility timeout has passed). 1 per tag still filed, else 0.
 */
export const touch = lua(
  'celery-touch',
  2,
  `
local out = {}
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
`,
)

/**
 * KEYS: unacked, unacked_index. ARGV: old tag, new tag, entry, score (seconds).
 * Replaces a filed message by a new one (a retry) filed until its time. 1, or 0 when stale.
 */
export const refile = lua(
  'celery-refile',
  2,
  `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
`,
)

/**
 * KEYS: unacked, unacked_index, dead. ARGV: tag, id, reason, now (ms), queue.
 * Moves a filed message to the dead hash under its id. 1, or 0 when stale.
 */
export const bury = lua(
  'celery-bury',
  3,
  `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({ id = ARGV[2], queue = ARGV[5], reason = ARGV[3],
  failedAt = tonumber(ARGV[4]), entry = v }))
return 1
`,
)

/** KEYS: dead, list. ARGV: id, payload. Moves a dead message back onto its list. 1, or 0. */
export const revive = lua(
  'celery-revive',
  2,
  `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
`,
)
