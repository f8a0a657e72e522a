/**
 * `reserve` itself, on the engines that have it (`consumer: 'pull'`): a waiting reserve woken by
 * a publish, waits that run out or are aborted, close during a wait. A push engine's consumer is
 * covered by consumer-credit.ts.
 */
import assert from 'node:assert/strict'
import { isPullBroker, type BrokerCapabilities, type PullBroker } from '../../../src/contracts/broker.js'
import { jobs, q, sleep, test, type OpenBroker } from './support.js'

const pullOnly = {
  when: (c: BrokerCapabilities) => c.consumer === 'pull',
  why: "a push engine has no reserve (consume's tests cover its waits)",
}

async function pull(open: OpenBroker): Promise<PullBroker> {
  const b = await open()
  assert.ok(isPullBroker(b))
  return b
}

export function pullTests(open: OpenBroker): void {
  test(
    open,
    'wakes a waiting reserve when a job is published by another client',
    async () => {
      const consumer = await pull(open)
      const producer = await open()
      const queue = q()
      const started = Date.now()
      const pending = consumer.reserve([queue], 1, { leaseMs: 30_000, waitMs: 3000 })
      await sleep(100)
      await producer.publish(jobs(queue, 1))
      const got = await pending
      assert.equal(got.length, 1)
      assert.ok(Date.now() - started < 2500, 'returned before the wait ran out')
      await consumer.ack(got)
    },
    pullOnly,
  )

  test(
    open,
    'returns an empty batch when the wait runs out or is aborted',
    async () => {
      const b = await pull(open)
      const queue = q()
      const t0 = Date.now()
      assert.deepEqual(await b.reserve([queue], 1, { leaseMs: 1000, waitMs: 200 }), [])
      assert.ok(Date.now() - t0 >= 150)
      const ac = new AbortController()
      setTimeout(() => ac.abort(), 50)
      const t1 = Date.now()
      assert.deepEqual(await b.reserve([queue], 1, { leaseMs: 1000, waitMs: 5000, signal: ac.signal }), [])
      assert.ok(Date.now() - t1 < 2000)
    },
    pullOnly,
  )

  test(
    open,
    'close ends a blocking reserve promptly, empty; calls after close end without hanging',
    async () => {
      const b = await pull(open)
      const queue = q()
      const pending = b.reserve([queue], 1, { leaseMs: 1000, waitMs: 3000 })
      await sleep(100)
      const t0 = Date.now()
      await b.close()
      assert.deepEqual(await pending, [])
      assert.ok(Date.now() - t0 < 1000, `the reserve ended ${Date.now() - t0} ms after close`)
      const t1 = Date.now()
      await b.reserve([queue], 1, { leaseMs: 1000, waitMs: 3000 }).catch(() => [])
      await b.publish(jobs(queue, 1)).catch(() => {})
      assert.ok(Date.now() - t1 < 1000, 'a call after close rejects or returns at once')
      await b.close() // idempotent
    },
    pullOnly,
  )
}
