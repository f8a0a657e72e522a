/**
 * Leases and settling: a lapsed lease (timed: expired; connection: the holder's connection
 * closed) and redelivery, extension, release, retry; fencing by token and fence.
 */
import assert from 'node:assert/strict'
import type { Broker, BrokerCapabilities, Delivery, LeaseRef } from '../../../src/contracts/broker.js'
import { hold, jobs, q, sleep, take, test, type OpenBroker, oneDelayed } from './support.js'

/** A queue holding jobs whose first deliveries are stale (released) and second ones live. */
async function staleAndLive(
  b: Broker,
  n: number,
): Promise<{ queue: string; stale: Delivery[]; live: Delivery[] }> {
  const queue = q()
  await b.publish(jobs(queue, n))
  const stale = await take(b, [queue], n)
  await b.release(stale)
  const live = await take(b, [queue], n)
  assert.equal(live.length, n)
  return { queue, stale, live }
}

const timed = {
  when: (c: BrokerCapabilities) => c.leases === 'timed',
  why: 'connection leases do not expire by time (the lapse by a closed connection is tested)',
}

export function leaseTests(open: OpenBroker): void {
  test(open, 'redelivers when a lease lapses, with a new token; the stale token is fenced off', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const held = await hold(open, b, queue, 1)
    const [first] = held.deliveries
    assert.ok(first)
    assert.deepEqual(await take(b, [queue], 1), [], 'not redelivered while the lease lives')
    await held.lapse()
    const [second] = await take(b, [queue], 1, { waitMs: 2000 })
    assert.ok(second, 'redelivered after the lease lapsed')
    assert.equal(second.id, first.id)
    assert.notEqual(second.token, first.token)
    assert.equal(second.deliveries, 2)
    assert.ok(second.fence > first.fence, 'a higher fence')
    assert.deepEqual(await b.extend([first], 30_000), [false], 'stale extension ignored')
    assert.deepEqual(await b.ack([first]), [false], 'stale ack ignored')
    assert.deepEqual(await b.retry([{ ...first, body: 'x', delayMs: 0 }]), [false], 'stale retry ignored')
    assert.deepEqual(await b.deadLetter([{ ...first, reason: 'x' }]), [false], 'stale dead-letter ignored')
    assert.deepEqual(await b.release([first]), [false], 'stale release ignored')
    const [s] = await b.stats([queue])
    assert.equal(s!.active, 1, 'the live delivery is untouched')
    assert.deepEqual(await b.ack([second]), [true])
  })

  test(
    open,
    'a lapsed lease goes back to the front of its priority, ahead of jobs published after it',
    async () => {
      const b = await open()
      const queue = q()
      const [first] = jobs(queue, 1, { priority: 5 })
      await b.publish([first!])
      const held = await hold(open, b, queue, 1)
      const later = jobs(queue, 2, { priority: 5 })
      await b.publish(later)
      await b.publish(jobs(queue, 1, { body: 'low', priority: 0 }))
      await held.lapse()
      await sleep(200) // a connection lease: RabbitMQ requeues once the close is through
      const got = await take(b, [queue], 10)
      assert.deepEqual(
        got.map((d) => d.id),
        [first!.id, later[0]!.id, later[1]!.id, got[3]!.id],
      )
      assert.equal(got[3]!.body, 'low', 'lower priorities still come after')
      assert.equal(got[0]!.deliveries, 2)
    },
  )

  test(
    open,
    'Delivery.fence grows across a lapsed lease, release, retry and replay of the same job',
    async () => {
      const b = await open()
      const queue = q()
      await b.publish(jobs(queue, 1))
      const fences: number[] = []
      const held = await hold(open, b, queue, 1)
      fences.push(held.deliveries[0]!.fence)
      await held.lapse()
      const takeOne = async () => {
        const [d] = await take(b, [queue], 1, { waitMs: 2000 })
        assert.ok(d, `delivery ${fences.length + 1}`)
        fences.push(d.fence)
        return d
      }
      const afterLapse = await takeOne()
      assert.deepEqual(await b.release([afterLapse]), [true])
      const afterRelease = await takeOne()
      assert.deepEqual(await b.retry([{ ...afterRelease, body: 'again', delayMs: 0 }]), [true])
      const afterRetry = await takeOne()
      assert.deepEqual(await b.deadLetter([{ ...afterRetry, reason: 'r' }]), [true])
      assert.equal(await b.replayDead([afterRetry.id]), 1)
      const afterReplay = await takeOne()
      assert.ok(
        fences.every((f, i) => i === 0 || f > fences[i - 1]!),
        `fences ${fences.join(' < ')}`,
      )
      assert.deepEqual(await b.ack([afterReplay]), [true])
    },
  )

  test(
    open,
    'extends a live lease so the job is not redelivered',
    async () => {
      const b = await open()
      const queue = q()
      await b.publish(jobs(queue, 1))
      const [d] = await take(b, [queue], 1, { leaseMs: 200 })
      await sleep(50)
      assert.deepEqual(await b.extend([d!], 1000), [true])
      await sleep(250)
      assert.deepEqual(await take(b, [queue], 1, { leaseMs: 1000 }), [], 'the extended lease still holds')
      assert.deepEqual(await b.ack([d!]), [true])
    },
    timed,
  )

  test(open, 'releases a delivery back to the queue at once, not counting it', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const [d] = await take(b, [queue], 1)
    assert.deepEqual(await b.release([d!]), [true])
    assert.deepEqual(await b.release([d!]), [false], 'released token is stale')
    const [again] = await take(b, [queue], 1)
    assert.equal(again!.id, d!.id)
    assert.equal(again!.deliveries, 1)
    assert.deepEqual(await b.ack([again!]), [true])
  })

  test(open, 'retries with a new body, after a delay', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const [d] = await take(b, [queue], 1)
    // Past the wait of a push engine's empty take (about 1 s), with room for a loaded machine.
    const at = Date.now() + 2500
    assert.deepEqual(
      await b.retry([{ id: d!.id, token: d!.token, body: 'second try', delayMs: at - Date.now() }]),
      [true],
    )
    assert.deepEqual(await take(b, [queue], 1), [], 'not before the delay')
    const s = await oneDelayed(b, queue)
    assert.equal(s.delayed, 1)
    await sleep(at - Date.now() + 100)
    const [again] = await take(b, [queue], 1, { waitMs: 1000 })
    assert.equal(again!.id, d!.id)
    assert.equal(again!.body, 'second try')
    assert.equal(again!.deliveries, 2)
    assert.deepEqual(await b.ack([again!]), [true])
  })

  // Each call answers per entry: stale, live and unknown refs mixed in one batch.
  const unknown: LeaseRef = { id: 'no-such-job', token: '1' }

  test(open, 'ack answers per entry in a batch mixing stale, live and unknown tokens', async () => {
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

  test(open, 'extend answers per entry in a mixed batch', async () => {
    const b = await open()
    const { stale, live } = await staleAndLive(b, 2)
    assert.deepEqual(await b.extend([stale[0]!, live[0]!, unknown, stale[1]!], 5000), [
      false,
      true,
      false,
      false,
    ])
    assert.deepEqual(await b.ack(live), [true, true])
  })

  test(
    open,
    'extend extends only the live leases of a mixed batch',
    async () => {
      const b = await open()
      const queue = q()
      await b.publish(jobs(queue, 2))
      const stale = await take(b, [queue], 2)
      await b.release(stale)
      const live = await take(b, [queue], 2, { leaseMs: 250 })
      assert.deepEqual(await b.extend([stale[0]!, live[0]!, stale[1]!], 5000), [false, true, false])
      await sleep(400)
      const again = await take(b, [queue], 10)
      assert.deepEqual(
        again.map((d) => d.id),
        [live[1]!.id],
        'only the lease not extended lapsed',
      )
    },
    timed,
  )

  test(open, 'release answers per entry in a mixed batch', async () => {
    const b = await open()
    const { queue, stale, live } = await staleAndLive(b, 2)
    assert.deepEqual(await b.release([stale[0]!, live[0]!, unknown, stale[1]!]), [false, true, false, false])
    const [s] = await b.stats([queue])
    assert.equal(s!.waiting, 1)
    assert.equal(s!.active, 1)
  })

  test(open, 'retry answers per entry in a mixed batch', async () => {
    const b = await open()
    const { queue, stale, live } = await staleAndLive(b, 2)
    const retry = (d: LeaseRef) => ({ id: d.id, token: d.token, body: `retried ${d.token}`, delayMs: 0 })
    assert.deepEqual(await b.retry([stale[0]!, live[0]!, unknown, stale[1]!].map(retry)), [
      false,
      true,
      false,
      false,
    ])
    const got = await take(b, [queue], 10)
    assert.deepEqual(
      got.map((d) => d.body),
      [`retried ${live[0]!.token}`],
    )
  })

  test(open, 'deadLetter answers per entry in a mixed batch', async () => {
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
