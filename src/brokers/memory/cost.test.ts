/**
 * What a reserve costs on the memory broker: the delayed jobs and leases that come due, not all
 * of those that wait. (It used to look at every delayed and leased job on every reserve.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryBroker } from './broker.js'

describe('memory broker cost', () => {
  it('100 reserves next to 10,000 far-future delayed jobs look at none of them', async () => {
    const b = new MemoryBroker()
    const later = Date.now() + 3_600_000
    await b.publish(
      Array.from({ length: 10_000 }, (_, i) => ({
        id: `d${i}`,
        queue: 'q',
        body: '',
        priority: 0,
        availableAt: later,
      })),
    )
    await b.publish(
      Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, queue: 'q', body: '', priority: 0 })),
    )
    const before = b.timedVisits
    for (let i = 0; i < 100; i++) assert.equal((await b.reserve(['q'], 1, { leaseMs: 3_600_000 })).length, 1)
    assert.equal(b.timedVisits - before, 0)
    const [s] = await b.stats(['q'])
    assert.equal(s?.delayed, 10_000)
  })
})
