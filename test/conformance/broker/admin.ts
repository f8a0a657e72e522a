/** Queue administration: purge, stats, throughput, pause and resume. */
import assert from 'node:assert/strict'
import { counts, jobs, q, sleep, take, test, type OpenBroker } from './support.js'

export function adminTests(open: OpenBroker): void {
  test(open, 'purges waiting and delayed jobs, not active ones', async () => {
    const b = await open()
    const queue = q()
    await b.publish([...jobs(queue, 5), ...jobs(queue, 2, { availableAt: Date.now() + 60_000 })])
    const [active] = await take(b, [queue], 1)
    assert.equal(await b.purge(queue), 6)
    const [s] = await b.stats([queue])
    assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 0, active: 1, dead: 0 })
    assert.deepEqual(await b.ack([active!]), [true])
  })

  test(open, 'counts waiting, delayed, active and dead per queue', async () => {
    const b = await open()
    const queue = q()
    await b.publish([...jobs(queue, 4), ...jobs(queue, 3, { availableAt: Date.now() + 60_000 })])
    const got = await take(b, [queue], 2)
    await b.deadLetter([{ id: got[0]!.id, token: got[0]!.token, reason: 'r' }])
    const [s] = await b.stats([queue])
    assert.deepEqual(counts(s), { queue, waiting: 2, delayed: 3, active: 1, dead: 1 })
    const all = await b.stats()
    assert.ok(
      all.some((x) => x.queue === queue),
      'stats() with no queues lists known queues',
    )
    await b.purge(queue)
  })

  test(open, 'counts settled jobs as throughput', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 12))
    const got = await take(b, [queue], 12)
    await b.ack(got.slice(0, 9))
    await b.deadLetter(got.slice(9).map((d) => ({ id: d.id, token: d.token, reason: 'r' })))
    const [s] = await b.stats([queue])
    // 12 jobs over a window of 50 to 60 seconds.
    assert.ok(s!.throughput >= 0.19 && s!.throughput <= 0.25, `throughput ${s!.throughput}`)
    const [other] = await b.stats([q()])
    assert.equal(other!.throughput, 0)
  })

  test(
    open,
    'pauses and resumes a queue: nothing is delivered while paused, publishing still works',
    async () => {
      const b = await open()
      const consumer = await open()
      const [queue, open2] = [q(), q()]
      await b.publish([...jobs(queue, 2), ...jobs(open2, 1)])
      await b.pause(queue)
      const [s] = await b.stats([queue])
      assert.equal(s!.paused, true)
      await b.publish(jobs(queue, 1))
      const got = await take(consumer, [queue, open2], 10)
      assert.deepEqual(
        got.map((d) => d.queue),
        [open2],
        'only the queue that is not paused delivers',
      )
      assert.deepEqual(await take(consumer, [queue], 10, { waitMs: 200 }), [])
      const waiting = take(consumer, [queue], 10, { leaseMs: 30_000, waitMs: 3000 })
      await sleep(100)
      await b.resume(queue)
      const after = await waiting
      assert.ok(after.length >= 1, 'resume wakes a waiting consumer')
      const rest = after.length < 3 ? await take(consumer, [queue], 10) : []
      assert.equal(after.length + rest.length, 3)
      const [s2] = await b.stats([queue])
      assert.equal(s2!.paused, false)
    },
  )
}
