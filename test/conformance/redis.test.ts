/**
 * The broker conformance suite against a real Redis: REDIS_URL, else redis://127.0.0.1:6379/0.
 * Each run uses its own key prefix and deletes its keys afterwards, so it never touches other data.
 */
import { randomUUID } from 'node:crypto'
import { after } from 'node:test'
import { Redis } from 'ioredis'
import { RedisBroker } from '../../src/brokers/redis/index.js'
import { brokerConformance } from './suite.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`

after(async () => {
  const redis = new Redis(base)
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 1000)
    if (keys.length) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
  await redis.quit()
})

brokerConformance({
  name: 'redis',
  open: async () => {
    const b = new RedisBroker(url)
    await b.connect()
    return b
  },
})
