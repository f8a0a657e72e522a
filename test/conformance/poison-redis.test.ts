/**
 * Poison-input conformance on Redis: entries written straight into the queue's keys (see
 * src/brokers/redis/README.md): jobs as ready-list entries or delayed members, and shapes only
 * Redis can hold (no framing, bad counts, truncated framing, an id that is not UTF-8, a delayed
 * member whose priority prefix is negative or not a digit).
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { after } from 'node:test'
import type { DeadJob } from '../../src/contracts/broker.js'
import { QueueKeys } from '../../src/brokers/redis/keys.js'
import { App } from '../../src/core/app.js'
import { redisTestUrl } from './redis-env.js'
import { poisonConformance, type EngineCase } from './poison-suite.js'

const url = redisTestUrl()
const prefix = new URL(url).searchParams.get('prefix')!
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0')
after(() => redis.quit())

/** Where a Redis-only shape goes: a ready list (priority) or the delayed set (due now). */
interface RedisRaw {
  readonly delayed?: boolean
  readonly priority?: number
  readonly bytes: Buffer
}

const frame = (id: string, body: Buffer) =>
  Buffer.concat([Buffer.from(`0:${Buffer.byteLength(id)}:${id}`), body])
const marked = (
  name: string,
  make: (mark: string) => Buffer | string,
  where: Omit<RedisRaw, 'bytes'> = {},
  reason?: RegExp,
): EngineCase => {
  const mark = `mark-${randomUUID().slice(0, 8)}`
  const bytes = Buffer.from(make(mark))
  return {
    name,
    raw: { ...where, bytes } satisfies RedisRaw,
    matches: (d: DeadJob) => d.body.includes(mark),
    ...(reason ? { reason } : {}),
  }
}
const envelopeLike = (mark: string) =>
  `{"v":1,"id":"${mark}","task":"poison.add","args":[1,2],"queue":"q","sent_at":"2024-01-01T00:00:00Z"}`

const engineCases: EngineCase[] = [
  {
    name: 'empty list entry',
    raw: { bytes: Buffer.alloc(0) } satisfies RedisRaw,
    matches: (d) => d.body === '' && /empty entry/.test(d.reason),
  },
  marked('no framing', (m) => `garbage ${m}`, {}, /prefix/),
  marked('no id-length framing', (m) => `0:${m}`, {}, /framing/),
  marked('non-numeric delivery count', (m) => `x:${m.length}:${m}{}`, { priority: 3 }, /prefix/),
  marked('truncated framing', (m) => `0:999:${m}`, {}, /truncated/),
  marked(
    'absurd delivery count',
    (m) => `123456789012345678901234567890:${m.length}:${m}{}`,
    {},
    /out of range/,
  ),
  marked('empty id', (m) => `0:0:${envelopeLike(m)}`, {}, /empty id/),
  marked(
    'id not UTF-8',
    (m) => Buffer.concat([Buffer.from('0:3:'), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from(m)]),
    {},
    /UTF-8/,
  ),
  marked(
    'huge but readable delivery count',
    (m) =>
      frame(m, Buffer.from(envelopeLike(m)))
        .toString()
        .replace(/^0:/, '999999:'),
    {},
    /delivered \d+ times/,
  ),
  marked(
    'negative priority (delayed)',
    (m) => `-1:0:${m.length}:${m}{}`,
    { delayed: true },
    /priority prefix/,
  ),
  marked(
    'priority not a digit (delayed)',
    (m) => `x:0:${m.length}:${m}{}`,
    { delayed: true },
    /priority prefix/,
  ),
  marked(
    'priority of two digits (delayed)',
    (m) => `12:0:${m.length}:${m}{}`,
    { delayed: true },
    /priority prefix/,
  ),
  marked('bad entry after a good priority prefix (delayed)', (m) => `4:${m}`, { delayed: true }, /prefix/),
]

poisonConformance({
  name: 'redis',
  app: (options) => new App({ broker: url, resultBackend: url, ...options }),
  writeRaw: async (queue, entries) => {
    const k = new QueueKeys(prefix, queue)
    const [[, time]] = (await redis.multi().time().exec()) as [[null, [string, string]]]
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
    const m = redis.multi()
    for (const e of entries) {
      const {
        priority = 0,
        delayMs = 0,
        bytes,
      } = 'id' in e
        ? { ...e, bytes: frame(e.id, Buffer.from(e.body)) }
        : { ...(e.raw as RedisRaw), delayMs: (e.raw as RedisRaw).delayed ? 1 : 0 }
      if (delayMs > 0 || ('raw' in e && (e.raw as RedisRaw).delayed)) {
        const member = 'raw' in e ? bytes : Buffer.concat([Buffer.from(`${priority}:`), bytes])
        m.zadd(k.delayed, now + delayMs, member)
      } else m.rpush(k.ready[priority]!, bytes)
    }
    m.rpush(k.wake, '1')
    m.sadd(`{${prefix}}:queues`, queue)
    await m.exec()
  },
  engineCases,
  duplicateIds: 'dead',
})
