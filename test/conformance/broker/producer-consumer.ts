/** Publishing and consuming: order, priorities, delays, idempotent ids, concurrency. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { BrokerCapabilities } from '../../../src/contracts/broker.js'
import { counts, drain, jobs, q, sleep, take, test, type OpenBroker, oneDelayed } from './support.js'

export function producerConsumerTests(open: OpenBroker): void {
  test(open, 'publishes, consumes and acknowledges', async () => {
    const b = await open()
    const queue = q()
    const sent = jobs(queue, 3)
    await b.publish(sent)
    const got = await take(b, [queue], 10)
    assert.deepEqual(
      got.map((d) => d.id),
      sent.map((j) => j.id),
    )
    assert.deepEqual(
      got.map((d) => d.body),
      ['body-0', 'body-1', 'body-2'],
    )
    for (const d of got) {
      assert.equal(d.deliveries, 1)
      assert.equal(d.queue, queue)
      assert.equal(typeof d.token, 'string')
      assert.ok(Number.isSafeInteger(d.fence), `fence ${d.fence}`)
    }
    assert.deepEqual(await b.ack(got), [true, true, true])
    assert.deepEqual(await b.ack(got), [false, false, false], 'a second ack changes nothing')
    assert.deepEqual(await take(b, [queue], 10), [])
    const [s] = await b.stats([queue])
    assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 0, active: 0, dead: 0 })
  })

  const idempotent = {
    when: (c: BrokerCapabilities) => c.idempotentPublish,
    why: 'idempotentPublish is false: a repeated id may be stored twice',
  }

  test(
    open,
    'skips a job whose id is live: waiting, delayed or active',
    async () => {
      const b = await open()
      const queue = q()
      const [j] = jobs(queue, 1)
      await b.publish([j!])
      await b.publish([j!, { ...j!, body: 'second' }])
      const got = await drain(b, [queue])
      assert.deepEqual(
        got.map((d) => d.body),
        ['body-0'],
      )
      await b.publish([j!])
      assert.deepEqual(await take(b, [queue], 10), [], 'still active: not added again')
      await b.ack(got)
      const [later] = jobs(queue, 1, { availableAt: Date.now() + 60_000 })
      await b.publish([later!])
      await b.publish([{ ...later!, availableAt: undefined, body: 'now' }])
      const [s] = await b.stats([queue])
      assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 1, active: 0, dead: 0 }, 'delayed: skipped')
      await b.purge(queue)
    },
    idempotent,
  )

  test(
    open,
    'stores a repeated id of one batch once, the first',
    async () => {
      const b = await open()
      const queue = q()
      const [j] = jobs(queue, 1)
      await b.publish([j!, { ...j!, body: 'repeat' }, { ...j!, body: 'again' }])
      assert.deepEqual(
        (await drain(b, [queue])).map((d) => d.body),
        ['body-0'],
      )
    },
    idempotent,
  )

  test(open, 'publishes again an id that was acknowledged', async () => {
    const b = await open()
    const queue = q()
    const [j] = jobs(queue, 1)
    await b.publish([j!])
    await b.ack(await drain(b, [queue]))
    await b.publish([{ ...j!, body: 'second run' }])
    assert.deepEqual(
      (await drain(b, [queue])).map((d) => d.body),
      ['second run'],
    )
  })

  test(open, 'takes batches: 1,000 published at once, taken 100 at a time, each once', async () => {
    const b = await open()
    const queue = q()
    const sent = jobs(queue, 1000)
    await b.publish(sent)
    const [s] = await b.stats([queue])
    assert.equal(s!.waiting, 1000)
    const got = await drain(b, [queue])
    assert.equal(got.length, 1000)
    assert.equal(new Set(got.map((d) => d.id)).size, 1000)
    assert.deepEqual(
      got.map((d) => d.id),
      sent.map((j) => j.id),
      'oldest first',
    )
    assert.ok((await b.ack(got)).every(Boolean))
  })

  test(open, 'consumes from several queues and never from others', async () => {
    const b = await open()
    const [q1, q2, q3] = [q(), q(), q()]
    await b.publish([...jobs(q1, 2), ...jobs(q2, 2), ...jobs(q3, 2)])
    const got = await drain(b, [q1, q2])
    assert.equal(got.length, 4)
    assert.ok(got.every((d) => d.queue === q1 || d.queue === q2))
    const [s3] = await b.stats([q3])
    assert.equal(s3!.waiting, 2)
  })

  test(open, 'delivers higher priority first, FIFO within a priority', async () => {
    const b = await open()
    const queue = q()
    const order = [0, 9, 5, 9, 0, 5]
    const sent = order.map((p, i) => ({ id: randomUUID(), queue, body: `p${p}-${i}`, priority: p }))
    for (const j of sent) await b.publish([j])
    const got = await drain(b, [queue])
    assert.deepEqual(
      got.map((d) => d.body),
      ['p9-1', 'p9-3', 'p5-2', 'p5-5', 'p0-0', 'p0-4'],
    )
  })

  test(
    open,
    'across several queues: higher priority first, then in the declared crossQueueOrder',
    async () => {
      const b = await open()
      const queues = [q(), q(), q()]
      const sent: string[] = []
      for (let i = 0; i < 9; i++) {
        const queue = queues[(i * 2) % 3]!
        await b.publish([{ id: randomUUID(), queue, body: `${i}`, priority: 0 }])
        sent.push(`${i}`)
        await sleep(3) // distinct publish times on engines that order by the clock
      }
      await b.publish([{ id: randomUUID(), queue: queues[2]!, body: 'urgent', priority: 5 }])
      // Asked in another order than published to: the order of `queues` does not matter.
      const got: string[] = []
      for (;;) {
        const [d] = await take(b, [queues[2]!, queues[0]!, queues[1]!], 1)
        if (!d) break
        got.push(d.body)
        await b.ack([d])
      }
      const order = b.capabilities.crossQueueOrder
      if (order === 'age') assert.deepEqual(got, ['urgent', ...sent])
      else if (order === 'listed') {
        // 'listed': queue by queue in the order asked, oldest first within each.
        const byQueue = [2, 0, 1].flatMap((k) => sent.filter((_, i) => (i * 2) % 3 === k))
        assert.deepEqual(got, ['urgent', ...byQueue])
      } else {
        // 'none': each queue in its own order (priority, then oldest), no order between queues.
        assert.equal(got.length, sent.length + 1)
        for (const k of [0, 1, 2]) {
          const mine = sent.filter((_, i) => (i * 2) % 3 === k)
          const expected = k === 2 ? ['urgent', ...mine] : mine
          assert.deepEqual(
            got.filter((x) => expected.includes(x)),
            expected,
            `queue ${k} in its own order`,
          )
        }
      }
    },
  )

  test(open, 'keeps delayed jobs in the broker until their time', async () => {
    const b = await open()
    const queue = q()
    // Long enough for a push engine's take to see nothing first (it waits half a second), with
    // room for a loaded machine.
    const at = Date.now() + 2500
    const [j] = jobs(queue, 1, { availableAt: at })
    await b.publish([j!])
    assert.deepEqual(await take(b, [queue], 10), [])
    const s = await oneDelayed(b, queue)
    assert.equal(s.delayed, 1)
    assert.equal(s.waiting, 0)
    await sleep(at - Date.now() + 100)
    const got = await take(b, [queue], 10, { waitMs: 1000 })
    assert.deepEqual(
      got.map((d) => d.id),
      [j!.id],
    )
  })

  test(open, 'never gives two concurrent consumers the same live lease', async () => {
    const producer = await open()
    const consumers = await Promise.all(Array.from({ length: 6 }, () => open()))
    const queue = q()
    const total = 2000
    await producer.publish(jobs(queue, total))
    const seen = new Map<string, number>()
    let acked = 0
    await Promise.all(
      consumers.map(async (c) => {
        for (;;) {
          const got = await take(c, [queue], 25, { leaseMs: 60_000 })
          if (!got.length) return
          for (const d of got) seen.set(d.id, (seen.get(d.id) ?? 0) + 1)
          const ok = (await c.ack(got)).filter(Boolean).length
          acked += ok
        }
      }),
    )
    assert.equal(seen.size, total)
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      'no job delivered twice while its lease lived',
    )
    assert.equal(acked, total)
  })
}
