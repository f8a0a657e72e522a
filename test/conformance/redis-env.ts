/**
 * The Redis of the conformance runners: REDIS_URL, else redis://127.0.0.1:6379/0. Each runner
 * takes its own key prefix and deletes the keys holding it afterwards, so it never touches other
 * data.
 */
import { randomUUID } from 'node:crypto'
import { after } from 'node:test'
import { Redis } from 'ioredis'

/** A URL with a fresh prefix; its keys are deleted when the test file ends. */
export function redisTestUrl(): string {
  const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
  after(async () => {
    const redis = new Redis(base)
    let cursor = '0'
    do {
      // Queue keys are `{prefix:…}`, results `prefix:result:…`: match the prefix anywhere.
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000)
      if (keys.length) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    await redis.quit()
  })
  return `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
}
