/**
 * The Redis backend through Sentinel: a private primary and one Sentinel watching it, started in a
 * temp dir on free ports; the shared broker conformance suite and the result store on
 * `redis+sentinel://`. With Sentinel the data lives on one primary, so the one-server path runs.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { RedisBroker, RedisResultStore } from '../../src/brokers/redis/index.js'
import { brokerConformance } from '../conformance/suite.js'
import { tempDir } from './helpers.js'
import { RedisSentinelSetup } from './redis-helpers.js'

const setup = new RedisSentinelSetup(tempDir('celeriac-sentinel-'))
after(() => setup.stop())
await setup.start()
const url = setup.url(`celeriac-s-${randomUUID().slice(0, 8)}`)

brokerConformance({
  name: 'redis sentinel',
  open: async () => {
    const b = new RedisBroker(url)
    await b.connect()
    return b
  },
})

describe('redis sentinel specifics', () => {
  it('reaches the primary the Sentinel names, and stores and waits for results there', async () => {
    const store = new RedisResultStore(url)
    await store.connect()
    try {
      const now = Date.now()
      const id = randomUUID()
      const waiting = store.wait(id, { timeoutMs: 5_000 })
      await store.set([
        {
          id,
          state: 'SUCCESS',
          task: 't',
          result: '42',
          error: null,
          retries: 0,
          worker: 'w',
          startedAt: now,
          doneAt: now,
          updatedAt: now,
          expiresAt: now + 60_000,
          fence: null,
        },
      ])
      assert.equal((await waiting)?.result, '42')
      assert.equal(await store.forget([id]), 1)
    } finally {
      await store.close()
    }
  })
})
