/** Publishing and reserving: order, priorities, delays, idempotent ids, waits, concurrency, close. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { it } from 'node:test'
import { counts, drain, jobs, q, sleep, type OpenBroker } from './support.js'

export function producerConsumerTests(open: OpenBroker): void {
  it('publishes, reserves and acknowledges', async () => {
    const b = await open()
    const queue = q()
    const sent = jobs(queue, 3)
    await b.publish(sent)
    const got = await b.reserve([queue], 10, { leaseMs: 30_000 })
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
    assert.deepEqual(await b.reserve([queue], 10, { leaseMs: 30_000 }), [])
    const [s] = await b.stats([queue])
    assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 0, active: 0, dead: 0 })
  })

  it('skips a job whose id is live: waiting, delayed or active', async () => {
    const b = await open()
    assert.equal(b.capabilities.idempotentPublish, true, 'every engine publishes idempotently')
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
    assert.deepEqual(await b.reserve([queue], 10, { leaseMs: 30_000 }), [], 'still active: not added again')
    await b.ack(got)
    const [later] = jobs(queue, 1, { availableAt: Date.now() + 60_000 })
    await b.publish([later!])
    await b.publish([{ ...later!, availableAt: undefined, body: 'now' }])
    const [s] = await b.stats([queue])
    assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 1, active: 0, dead: 0 }, 'delayed: skipped')
    await b.purge(queue)
  })

  it('stores a repeated id of one batch once, the first', async () => {
    const b = await open()
    const queue = q()
    const [j] = jobs(queue, 1)
    await b.publish([j!, { ...j!, body: 'repeat' }, { ...j!, body: 'again' }])
    assert.deepEqual(
      (await drain(b, [queue])).map((d) => d.body),
      ['body-0'],
    )
  })

  it('publishes again an id that was acknowledged', async () => {
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

  it('takes batches: 1,000 published at once, reserved 100 at a time, each once', async () => {
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

  it('reserves from several queues and never from others', async () => {
    const b = await open()
    const [q1, q2, q3] = [q(), q(), q()]
    await b.publish([...jobs(q1, 2), ...jobs(q2, 2), ...jobs(q3, 2)])
    const got = await drain(b, [q1, q2])
    assert.equal(got.length, 4)
    assert.ok(got.every((d) => d.queue === q1 || d.queue === q2))
    const [s3] = await b.stats([q3])
    assert.equal(s3!.waiting, 2)
  })

  it('delivers higher priority first, FIFO within a priority', async () => {
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

  it('across several queues: higher priority first, then oldest first whatever the queue', async () => {
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
      const [d] = await b.reserve([queues[2]!, queues[0]!, queues[1]!], 1, { leaseMs: 30_000 })
      if (!d) break
      got.push(d.body)
    }
    assert.deepEqual(got, ['urgent', ...sent])
  })

  it('keeps delayed jobs in the broker until their time', async () => {
    const b = await open()
    const queue = q()
    const [j] = jobs(queue, 1, { availableAt: Date.now() + 400 })
    await b.publish([j!])
    assert.deepEqual(await b.reserve([queue], 10, { leaseMs: 30_000 }), [])
    const [s] = await b.stats([queue])
    assert.equal(s!.delayed, 1)
    assert.equal(s!.waiting, 0)
    await sleep(500)
    const got = await b.reserve([queue], 10, { leaseMs: 30_000 })
    assert.deepEqual(
      got.map((d) => d.id),
      [j!.id],
    )
  })

  it('wakes a waiting reserve when a job is published by another client', async () => {
    const consumer = await open()
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
  })

  it('returns an empty batch when the wait runs out or is aborted', async () => {
    const b = await open()
    const queue = q()
    const t0 = Date.now()
    assert.deepEqual(await b.reserve([queue], 1, { leaseMs: 1000, waitMs: 200 }), [])
    assert.ok(Date.now() - t0 >= 150)
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const t1 = Date.now()
    assert.deepEqual(await b.reserve([queue], 1, { leaseMs: 1000, waitMs: 5000, signal: ac.signal }), [])
    assert.ok(Date.now() - t1 < 2000)
  })

  it('never gives two concurrent consumers the same live lease', async () => {
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
          const got = await c.reserve([queue], 25, { leaseMs: 60_000 })
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

  it('close ends a blocking reserve promptly, empty; calls after close end without hanging', async () => {
    const b = await open()
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
  })
}
