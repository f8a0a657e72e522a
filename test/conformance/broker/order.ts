/**
 * Place in line when jobs come back, and whose ref a token is: details where engines disagreed
 * (found by the model test, model.ts). A job handed back (released, or its lease expired) keeps
 * its place: ahead of newer jobs, behind older ones. A job that is retried, comes due or is
 * replayed is a new arrival: the back of its priority. Replays and jobs due together keep the
 * order they failed or were delayed in.
 */
import assert from 'node:assert/strict'
import type { Delivery, Broker } from '../../../src/contracts/broker.js'
import { jobs, q, sleep, take, test, type OpenBroker } from './support.js'

const idsOf = (ds: readonly { id: string }[]) => ds.map((d) => d.id)

/** Takes everything ready now, in delivery order. */
async function all(b: Broker, queue: string): Promise<Delivery[]> {
  return take(b, [queue], 100)
}

export function orderTests(open: OpenBroker): void {
  test(open, 'released jobs keep their place in line, whatever order they are released in', async () => {
    const b = await open()
    const queue = q()
    const sent = jobs(queue, 4, { priority: 3 })
    await b.publish(sent.slice(0, 3))
    const [x, y, z] = await take(b, [queue], 3)
    await b.publish(sent.slice(3))
    // One at a time, in neither their order nor its reverse.
    for (const d of [x!, z!, y!]) assert.deepEqual(await b.release([d]), [true])
    assert.deepEqual(idsOf(await all(b, queue)), idsOf(sent), 'oldest first, ahead of the newer job')
    const queue2 = q()
    const more = jobs(queue2, 3)
    await b.publish(more)
    const taken = await take(b, [queue2], 3)
    assert.deepEqual(await b.release([...taken].reverse()), [true, true, true])
    assert.deepEqual(
      idsOf(await all(b, queue2)),
      idsOf(more),
      'a batch released in reverse comes back in order',
    )
  })

  test(
    open,
    'a retry with no delay goes to the back of its priority, behind jobs already waiting',
    async () => {
      const b = await open()
      const queue = q()
      const sent = jobs(queue, 3, { priority: 5 })
      await b.publish(sent)
      const [first] = await take(b, [queue], 1)
      assert.equal(first!.id, sent[0]!.id)
      assert.deepEqual(await b.retry([{ ...first!, body: 'again', delayMs: 0 }]), [true])
      const got = await all(b, queue)
      assert.deepEqual(idsOf(got), [sent[1]!.id, sent[2]!.id, sent[0]!.id])
      assert.equal(got[2]!.body, 'again')
    },
  )

  test(open, 'delayed jobs that come due together become ready in the order they were sent', async () => {
    const b = await open()
    const queue = q()
    const at = Date.now() + 150
    const sent = jobs(queue, 8, { availableAt: at })
    await b.publish(sent)
    // Retried in reverse with the same backoff: they come due together, in the order retried.
    const other = q()
    const retried = jobs(other, 4)
    await b.publish(retried)
    const taken = [...(await take(b, [other], 4))].reverse()
    await b.retry(taken.map((d) => ({ ...d, body: d.body, delayMs: 150 })))
    await sleep(at - Date.now() + 200)
    assert.deepEqual(idsOf(await all(b, queue)), idsOf(sent))
    assert.deepEqual(idsOf(await all(b, other)), idsOf(taken))
  })

  test(open, 'replay puts jobs back in the order they failed, whatever the order of the ids', async () => {
    const b = await open()
    const queue = q()
    const sent = jobs(queue, 3)
    await b.publish(sent)
    for (const d of await take(b, [queue], 3)) {
      assert.deepEqual(await b.deadLetter([{ ...d, reason: 'r' }]), [true])
      await sleep(3)
    }
    const [x, y, z] = idsOf(sent)
    assert.equal(await b.replayDead([z!, x!, y!]), 3)
    assert.deepEqual(idsOf(await all(b, queue)), [x, y, z], 'oldest failure first')
  })

  test(open, "a token presented with another job's id is stale for every settle call", async () => {
    const b = await open()
    const queue = q()
    const sent = jobs(queue, 2)
    await b.publish(sent)
    const [d, other] = await take(b, [queue], 2)
    const forged = { id: other!.id, token: d!.token }
    assert.deepEqual(await b.extend([forged], 30_000), [false])
    assert.deepEqual(await b.ack([forged]), [false])
    assert.deepEqual(await b.release([forged]), [false])
    assert.deepEqual(await b.retry([{ ...forged, body: 'x', delayMs: 0 }]), [false])
    assert.deepEqual(await b.deadLetter([{ ...forged, reason: 'x' }]), [false])
    const [s] = await b.stats([queue])
    assert.equal(s!.active, 2, 'both deliveries untouched')
    assert.deepEqual(await b.ack([d!, other!]), [true, true])
  })

  test(
    open,
    'a repeated id in one batch is stored once, the first, even at another priority',
    async () => {
      const b = await open()
      const queue = q()
      const [job] = jobs(queue, 1, { priority: 9, body: 'first' })
      await b.publish([job!, { ...job!, priority: 0, body: 'second' }])
      const got = await all(b, queue)
      assert.deepEqual(
        got.map((d) => [d.body, d.priority]),
        [['first', 9]],
      )
    },
    {
      when: (c) => c.idempotentPublish,
      why: 'idempotentPublish is false: a repeated id may be stored twice',
    },
  )

  test(open, 'a ref repeated in one batch: the first entry applies, the later ones are stale', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1))
    const [d] = await take(b, [queue], 1)
    assert.deepEqual(await b.release([d!, d!]), [true, false], 'release')
    const [e] = await take(b, [queue], 1)
    assert.deepEqual(
      await b.retry([
        { ...e!, body: 'r1', delayMs: 0 },
        { ...e!, body: 'r2', delayMs: 0 },
      ]),
      [true, false],
      'retry',
    )
    const [f] = await take(b, [queue], 1)
    assert.equal(f!.body, 'r1')
    assert.deepEqual(await b.ack([f!, f!]), [true, false], 'ack')
  })

  test(
    open,
    'dead letters of one batch count as failed in batch order: listed, pruned and replayed so',
    async () => {
      const b = await open()
      const queue = q()
      const sent = jobs(queue, 4)
      await b.publish(sent)
      const taken = await take(b, [queue], 4)
      // In an order unrelated to the ids, so no engine gets it right by sorting on them.
      const order = [taken[2]!, taken[0]!, taken[3]!, taken[1]!]
      assert.deepEqual(await b.deadLetter(order.map((d) => ({ ...d, reason: 'r' }))), [
        true,
        true,
        true,
        true,
      ])
      const newestFirst = idsOf(order).reverse()
      assert.deepEqual(idsOf(await b.listDead({ queue })), newestFirst)
      assert.equal(await b.pruneDead({ keep: 3 }), 1)
      assert.deepEqual(idsOf(await b.listDead({ queue })), newestFirst.slice(0, 3), 'the oldest pruned')
      assert.equal(await b.replayDead(newestFirst.slice(0, 3)), 3)
      assert.deepEqual(idsOf(await all(b, queue)), idsOf(order.slice(1)), 'replayed oldest failure first')
    },
  )
}
