/** Token takes coalesced per bucket and turn; deferral spacing. Memory coordination, counted calls. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import type { BucketSpec, Coordination } from '../contracts/coordination.js'
import { createApp } from '../index.js'
import { HORIZON_MS, Pacer } from './pacer.js'
import { Takes } from './takes.js'

async function counted(): Promise<{ c: Coordination; calls: number[] }> {
  const real = (await createApp({ broker: `memory://${randomUUID()}` }).coordination())!
  const calls: number[] = []
  const c = Object.create(real) as Coordination
  c.take = (key, n, spec) => {
    calls.push(n)
    return real.take(key, n, spec)
  }
  return { c, calls }
}

describe('Takes', () => {
  it('the takes of one turn cost one call when the bucket has them all', async () => {
    const { c, calls } = await counted()
    const takes = new Takes(c)
    const spec: BucketSpec = { rate: 1000, perMs: 1000, burst: 100 }
    const waits = await Promise.all(Array.from({ length: 50 }, () => takes.take('b', spec)))
    assert.deepEqual(waits, Array(50).fill(0))
    assert.deepEqual(calls, [50])
  })

  it('when it has fewer, they are taken one by one until the first refusal, whose wait answers the rest', async () => {
    const { c, calls } = await counted()
    const takes = new Takes(c)
    const spec: BucketSpec = { rate: 10, perMs: 1000, burst: 3 }
    const waits = await Promise.all(Array.from({ length: 3 }, () => takes.take('b', spec)))
    assert.deepEqual(waits, [0, 0, 0])
    const more = await Promise.all(Array.from({ length: 5 }, () => takes.take('b', spec)))
    assert.ok(
      more.every((w) => w > 0 && w <= 100),
      `waits ${more.join(', ')}`,
    )
    assert.deepEqual(
      calls,
      [3, 3, 1],
      'one for all three, one for five (refused: groups of at most the burst), one single',
    )
  })
})

describe('Pacer', () => {
  it('spreads jobs of one limit one spacing apart, never past the horizon', () => {
    const p = new Pacer()
    const now = 1_000_000
    assert.deepEqual(
      [0, 1, 2].map(() => p.delay('x', 100, 50, now)),
      [100, 150, 200],
    )
    assert.equal(p.delay('y', 10, 0, now), 10, 'another limit is spaced apart on its own')
    for (let i = 0; i < 500; i++) p.delay('z', 0, 100, now)
    assert.equal(p.delay('z', 0, 100, now), HORIZON_MS)
  })
})
