/**
 * The memory broker's order where its data structures could lose it: equal due times in the
 * timer heap (not a stable structure) and jobs handed back out of order. The broker conformance
 * suite pins the same on every engine; here each case runs on an engine of its own, where the
 * heap holds nothing else to shuffle the order by chance.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryBroker } from './broker.js'

const LEASE = { leaseMs: 60_000 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const job = (id: string, extra = {}) => ({ id, queue: 'q', body: id, priority: 0, ...extra })

describe('memory broker order', () => {
  it('jobs due at the same time become ready in the order they were sent', async () => {
    const b = new MemoryBroker()
    const at = Date.now() + 50
    const ids = Array.from({ length: 8 }, (_, i) => `j${i}`)
    await b.publish(ids.map((id) => job(id, { availableAt: at })))
    await sleep(100)
    assert.deepEqual(
      (await b.reserve(['q'], 100, LEASE)).map((d) => d.id),
      ids,
    )
  })

  it('jobs released one at a time come back in their original order', async () => {
    const b = new MemoryBroker()
    await b.publish(['a', 'b', 'c'].map((id) => job(id)))
    const [a, bb, c] = await b.reserve(['q'], 3, LEASE)
    for (const d of [a!, c!, bb!]) await b.release([d])
    assert.deepEqual(
      (await b.reserve(['q'], 100, LEASE)).map((d) => d.id),
      ['a', 'b', 'c'],
    )
  })
})
