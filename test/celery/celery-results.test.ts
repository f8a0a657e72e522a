/**
 * Celery mode's result store on a real Redis (database 15): records of one settle batch are written
 * in one script call, each fenced as before: a lower fence, or a state that is not ready over a
 * ready one of the same fence, is not written; a higher fence is.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { ResultRecord } from '../../src/contracts/result-store.js'
import { RedisConnection } from '../../src/brokers/redis/shared.js'
import { CeleryRedisResultStore, metaKey } from '../../src/celery/index.js'

const REDIS = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0')
const URL15 = `redis://${REDIS.hostname}:${REDIS.port || '6379'}/15`

function rec(id: string, state: ResultRecord['state'], fence: number, result: unknown): ResultRecord {
  return {
    id,
    state,
    task: 'ts.t',
    result: JSON.stringify(result),
    error: null,
    retries: 0,
    worker: 'w',
    startedAt: 1,
    doneAt: state === 'SUCCESS' ? Date.now() : null,
    updatedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    fence,
  }
}

describe('celery+redis:// result store', () => {
  const conn = new RedisConnection(URL15)
  const store = new CeleryRedisResultStore(conn)
  const redis = new Redis(URL15)
  const ids = Array.from({ length: 300 }, () => `res-${randomUUID()}`)
  after(async () => {
    await redis.del(...ids.map(metaKey))
    redis.disconnect()
    await conn.close()
  })

  it('writes a batch (more than one script call) in Celery format, fenced per record', async () => {
    await store.connect()
    await store.set(ids.map((id, i) => rec(id, 'SUCCESS', 5, i)))
    const [a, b, c] = ids
    await store.set([
      rec(a!, 'STARTED', 5, 'stale'), // not ready over ready, same fence: kept
      rec(b!, 'SUCCESS', 3, 'lower'), // lower fence: kept
      rec(c!, 'STARTED', 7, 'newer'), // higher fence: written
    ])
    const got = await store.get(ids)
    assert.equal(got.filter((r) => r?.state === 'SUCCESS').length, 299)
    assert.equal(got[0]!.result, '0')
    assert.equal(got[1]!.result, '1')
    assert.equal(got[2]!.state, 'STARTED')
    const meta = JSON.parse((await redis.get(metaKey(ids[299]!)))!) as Record<string, unknown>
    assert.equal(meta.status, 'SUCCESS')
    assert.equal(meta.result, 299)
    assert.ok((await redis.pttl(metaKey(ids[299]!))) > 0)
  })
})
