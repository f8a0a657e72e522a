/** Leases and settling: expiry and redelivery, extension, release, retry; fencing by token and fence. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { Delivery, LeaseRef, PullBroker } from '../../../src/contracts/broker.js'
import { jobs, q, sleep, type OpenBroker } from './support.js'

/** A queue holding one job whose first delivery is stale (released) and second one live. */
async function staleAndLive(
  b: PullBroker,
  n: number,
): Promise<{ queue: string; stale: Delivery[]; live: Delivery[] }> {
  const queue = q()
  await b.publish(jobs(queue, n))
  const stale = await b.reserve([queue], n, { leaseMs: 30_000 })
  await b.release(stale)
  const live = await b.reserve([queue], n, { leaseMs: 30_000 })
  assert.equal(live.length, n)
  return { queue, stale, live }
}

export function leaseTests(open: OpenBroker): void {
  it('redelivers when a lease expires, with a new token; the stale token is fenced off', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const [first] = await b.reserve([queue], 1, { leaseMs: 150 })
    assert.ok(first)
    assert.deepEqual(
      await b.reserve([queue], 1, { leaseMs: 150 }),
      [],
      'not redelivered while the lease lives',
    )
    await sleep(300)
    const [second] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    assert.ok(second, 'redelivered after the lease expired')
    assert.equal(second.id, first.id)
    assert.notEqual(second.token, first.token)
    assert.equal(second.deliveries, 2)
    assert.deepEqual(await b.extend([first], 30_000), [false], 'stale extension ignored')
    assert.deepEqual(await b.ack([first]), [false], 'stale ack ignored')
    assert.deepEqual(await b.retry([{ ...first, body: 'x', delayMs: 0 }]), [false], 'stale retry ignored')
    assert.deepEqual(await b.deadLetter([{ ...first, reason: 'x' }]), [false], 'stale dead-letter ignored')
    assert.deepEqual(await b.release([first]), [false], 'stale release ignored')
    const [s] = await b.stats([queue])
    assert.equal(s!.active, 1, 'the live delivery is untouched')
    assert.deepEqual(await b.ack([second]), [true])
  })

  it('an expired lease goes to the back of its priority: jobs waiting when it expired come first', async () => {
    const b = await open()
    const queue = q()
    const [first] = jobs(queue, 1, { priority: 5 })
    await b.publish([first!])
    await b.reserve([queue], 1, { leaseMs: 150 })
    const later = jobs(queue, 2, { priority: 5 })
    await b.publish(later)
    await b.publish(jobs(queue, 1, { body: 'low', priority: 0 }))
    await sleep(300)
    const got = await b.reserve([queue], 10, { leaseMs: 30_000 })
    assert.deepEqual(
      got.map((d) => d.id),
      [later[0]!.id, later[1]!.id, first!.id, got[3]!.id],
    )
    assert.equal(got[3]!.body, 'low', 'but before lower priorities')
    assert.equal(got[2]!.deliveries, 2)
  })

  it('Delivery.fence grows across lease expiry, release, retry and replay of the same job', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const fences: number[] = []
    const take = async (leaseMs = 30_000) => {
      const [d] = await b.reserve([queue], 1, { leaseMs })
      assert.ok(d, `delivery ${fences.length + 1}`)
      fences.push(d.fence)
      return d
    }
    await take(100)
    await sleep(250)
    const afterExpiry = await take()
    assert.deepEqual(await b.release([afterExpiry]), [true])
    const afterRelease = await take()
    assert.deepEqual(await b.retry([{ ...afterRelease, body: 'again', delayMs: 0 }]), [true])
    const afterRetry = await take()
    assert.deepEqual(await b.deadLetter([{ ...afterRetry, reason: 'r' }]), [true])
    assert.equal(await b.replayDead([afterRetry.id]), 1)
    const afterReplay = await take()
    assert.ok(
      fences.every((f, i) => i === 0 || f > fences[i - 1]!),
      `fences ${fences.join(' < ')}`,
    )
    assert.deepEqual(await b.ack([afterReplay]), [true])
  })

  it('extends a live lease so the job is not redelivered', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const [d] = await b.reserve([queue], 1, { leaseMs: 200 })
    await sleep(100)
    assert.deepEqual(await b.extend([d!], 1000), [true])
    await sleep(250)
    assert.deepEqual(await b.reserve([queue], 1, { leaseMs: 1000 }), [], 'the extended lease still holds')
    assert.deepEqual(await b.ack([d!]), [true])
  })

  it('releases a delivery back to the queue at once, not counting it', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const [d] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    assert.deepEqual(await b.release([d!]), [true])
    assert.deepEqual(await b.release([d!]), [false], 'released token is stale')
    const [again] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    assert.equal(again!.id, d!.id)
    assert.equal(again!.deliveries, 1)
  })

  it('retries with a new body, after a delay', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const [d] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    assert.deepEqual(await b.retry([{ id: d!.id, token: d!.token, body: 'second try', delayMs: 300 }]), [
      true,
    ])
    assert.deepEqual(await b.reserve([queue], 1, { leaseMs: 30_000 }), [], 'not before the delay')
    const [s] = await b.stats([queue])
    assert.equal(s!.delayed, 1)
    await sleep(400)
    const [again] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    assert.equal(again!.id, d!.id)
    assert.equal(again!.body, 'second try')
    assert.equal(again!.deliveries, 2)
    assert.deepEqual(await b.ack([again!]), [true])
  })

  // Each call answers per entry: stale, live and unknown refs mixed in one batch.
  const unknown: LeaseRef = { id: 'no-such-job', token: '1' }

  it('ack answers per entry in a batch mixing stale, live and unknown tokens', async () => {
    const b = await open()
    const { queue, stale, live } = await staleAndLive(b, 2)
    assert.deepEqual(await b.ack([stale[0]!, live[0]!, unknown, stale[1]!, live[1]!, live[1]!]), [
      false,
      true,
      false,
      false,
      true,
      false,
    ])
    const [s] = await b.stats([queue])
    assert.equal(s!.active + s!.waiting, 0)
  })

  it('extend answers per entry in a mixed batch and extends only the live leases', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 2))
    const stale = await b.reserve([queue], 2, { leaseMs: 30_000 })
    await b.release(stale)
    const live = await b.reserve([queue], 2, { leaseMs: 200 })
    assert.deepEqual(await b.extend([stale[0]!, live[0]!, unknown, stale[1]!], 5000), [
      false,
      true,
      false,
      false,
    ])
    await sleep(350)
    const again = await b.reserve([queue], 10, { leaseMs: 30_000 })
    assert.deepEqual(
      again.map((d) => d.id),
      [live[1]!.id],
      'only the lease not extended lapsed',
    )
  })

  it('release answers per entry in a mixed batch', async () => {
    const b = await open()
    const { queue, stale, live } = await staleAndLive(b, 2)
    assert.deepEqual(await b.release([stale[0]!, live[0]!, unknown, stale[1]!]), [false, true, false, false])
    const [s] = await b.stats([queue])
    assert.equal(s!.waiting, 1)
    assert.equal(s!.active, 1)
  })

  it('retry answers per entry in a mixed batch', async () => {
    const b = await open()
    const { queue, stale, live } = await staleAndLive(b, 2)
    const retry = (d: LeaseRef) => ({ id: d.id, token: d.token, body: `retried ${d.token}`, delayMs: 0 })
    assert.deepEqual(await b.retry([stale[0]!, live[0]!, unknown, stale[1]!].map(retry)), [
      false,
      true,
      false,
      false,
    ])
    const got = await b.reserve([queue], 10, { leaseMs: 30_000 })
    assert.deepEqual(
      got.map((d) => d.body),
      [`retried ${live[0]!.token}`],
    )
  })

  it('deadLetter answers per entry in a mixed batch', async () => {
    const b = await open()
    const { queue, stale, live } = await staleAndLive(b, 2)
    const dead = (d: LeaseRef) => ({ id: d.id, token: d.token, reason: `r ${d.token}` })
    assert.deepEqual(await b.deadLetter([stale[0]!, live[0]!, unknown, stale[1]!].map(dead)), [
      false,
      true,
      false,
      false,
    ])
    assert.deepEqual(
      (await b.listDead({ queue })).map((d) => [d.id, d.reason]),
      [[live[0]!.id, `r ${live[0]!.token}`]],
    )
    await b.deleteDead([live[0]!.id])
  })
}
