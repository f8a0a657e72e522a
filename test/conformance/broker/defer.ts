/**
 * Defer: a delivery put back unchanged for later without being counted, for jobs a limit held
 * back (rate limits, per-key concurrency). The deliveries count and the body stay as they were,
 * the job goes behind the jobs ready before it, the fence still grows, stale tokens are refused.
 */
import assert from 'node:assert/strict'
import type { LeaseRef } from '../../../src/contracts/broker.js'
import { jobs, q, sleep, take, test, type OpenBroker, oneDelayed } from './support.js'

export function deferTests(open: OpenBroker): void {
  test(open, 'defers a delivery unchanged after a delay, not counting it, with a higher fence', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1, { body: 'same body' }))
    const [d] = await take(b, [queue], 1)
    const at = Date.now() + 1200 // past the wait of a push engine's empty take
    assert.deepEqual(await b.defer([{ id: d!.id, token: d!.token, delayMs: at - Date.now() }]), [true])
    assert.deepEqual(await b.defer([{ id: d!.id, token: d!.token, delayMs: 10 }]), [false], 'stale after')
    // A take that a loaded machine ran past the delay may get it; one before the delay may not.
    const early = await take(b, [queue], 1)
    assert.ok(early.length === 0 || Date.now() >= at, 'not before the delay')
    if (!early.length) {
      const s = await oneDelayed(b, queue)
      assert.ok(s.delayed === 1 || Date.now() >= at, 'counted as delayed')
      assert.equal(s.active, 0)
      await sleep(at - Date.now() + 100)
    }
    const [again] = early.length ? early : await take(b, [queue], 1, { waitMs: 1000 })
    assert.equal(again!.id, d!.id)
    assert.equal(again!.body, 'same body')
    assert.equal(again!.deliveries, 1, 'the deferred delivery is not counted')
    assert.ok(again!.fence > d!.fence, 'the fence grows')
    assert.deepEqual(await b.ack([d!]), [false], 'the deferred token is fenced off')
    assert.deepEqual(await b.ack([again!]), [true])
  })

  test(open, 'deferring many times never raises the deliveries count', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    for (let i = 0; i < 12; i++) {
      const [d] = await take(b, [queue], 1, { waitMs: 1000 })
      assert.equal(d!.deliveries, 1, `delivery after ${i} deferrals`)
      assert.deepEqual(await b.defer([{ id: d!.id, token: d!.token, delayMs: 0 }]), [true])
    }
    const [last] = await take(b, [queue], 1, { waitMs: 1000 })
    assert.equal(last!.deliveries, 1)
    assert.deepEqual(await b.ack([last!]), [true])
  })

  test(open, 'a job deferred with no delay goes behind the jobs ready before it', async () => {
    const b = await open()
    const queue = q()
    const [first, ...rest] = jobs(queue, 3)
    await b.publish([first!])
    const [d] = await take(b, [queue], 1)
    await b.publish(rest)
    assert.deepEqual(await b.defer([{ id: d!.id, token: d!.token, delayMs: 0 }]), [true])
    const got = await take(b, [queue], 3, { waitMs: 1000 })
    assert.deepEqual(
      got.map((x) => x.id),
      [rest[0]!.id, rest[1]!.id, first!.id],
    )
    await b.ack(got)
  })

  test(open, 'defer answers per entry in a batch mixing stale, live and unknown tokens', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 2))
    const stale = await take(b, [queue], 2)
    await b.release(stale)
    const live = await take(b, [queue], 2)
    const unknown: LeaseRef = { id: 'no-such-job', token: '1' }
    const defer = (r: LeaseRef) => ({ id: r.id, token: r.token, delayMs: 0 })
    assert.deepEqual(await b.defer([stale[0]!, live[0]!, unknown, stale[1]!, live[0]!].map(defer)), [
      false,
      true,
      false,
      false,
      false,
    ])
    const [s] = await b.stats([queue])
    assert.equal(s!.waiting + s!.active, 2)
    await b.ack(live.slice(1))
  })
}
