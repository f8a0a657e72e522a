/** Listing jobs by state, a page at a time (`listJobs`, engines with the `listJobs` flag). */
import assert from 'node:assert/strict'
import { canListJobs, type Broker, type JobLister } from '../../../src/contracts/broker.js'
import { jobs, q, sleep, take, test, type OpenBroker } from './support.js'

const lists = { when: (c: { listJobs?: boolean }) => c.listJobs === true, why: 'the engine cannot list jobs' }

function lister(b: Broker): Broker & JobLister {
  assert.ok(canListJobs(b), 'the listJobs flag is set, so the method is there')
  return b
}

export function listJobsTests(open: OpenBroker): void {
  test(
    open,
    'lists waiting jobs in delivery order, a page at a time, with counts matching stats',
    async () => {
      const b = lister(await open())
      const queue = q()
      const low = jobs(queue, 5)
      const high = jobs(queue, 2, { priority: 5 })
      await b.publish(low)
      await b.publish(high)
      const first = await b.listJobs({ queue, state: 'waiting', limit: 3 })
      const second = await b.listJobs({ queue, state: 'waiting', limit: 3, offset: 3 })
      const third = await b.listJobs({ queue, state: 'waiting', limit: 3, offset: 6 })
      const ids = [...first, ...second, ...third].map((j) => j.id)
      assert.deepEqual(
        ids,
        [...high, ...low].map((j) => j.id),
      )
      assert.deepEqual([first.length, second.length, third.length], [3, 3, 1])
      assert.equal(first[0]!.body, high[0]!.body)
      assert.equal(first[0]!.priority, 5)
      assert.equal(first[0]!.availableAt, null)
      const [s] = await b.stats([queue])
      assert.equal(s!.waiting, ids.length)
      assert.deepEqual(await b.listJobs({ queue: q(), state: 'waiting' }), [])
      await b.purge(queue)
    },
    lists,
  )

  test(
    open,
    'lists delayed jobs by due time and active jobs apart from waiting ones',
    async () => {
      const b = lister(await open())
      const queue = q()
      const now = Date.now()
      const later = jobs(queue, 1, { availableAt: now + 120_000 })
      const sooner = jobs(queue, 1, { availableAt: now + 60_000 })
      await b.publish([...later, ...sooner, ...jobs(queue, 2)])
      const delayed = await b.listJobs({ queue, state: 'delayed' })
      assert.deepEqual(
        delayed.map((j) => j.id),
        [sooner[0]!.id, later[0]!.id],
      )
      assert.ok(delayed[0]!.availableAt! >= now + 59_000)
      const [held] = await take(b, [queue], 1)
      const active = await b.listJobs({ queue, state: 'active' })
      assert.deepEqual(
        active.map((j) => j.id),
        [held!.id],
      )
      assert.equal(active[0]!.deliveries, 1)
      const waiting = await b.listJobs({ queue, state: 'waiting' })
      assert.equal(waiting.length, 1)
      assert.ok(!waiting.some((j) => j.id === held!.id))
      assert.deepEqual(await b.ack([held!]), [true])
      await b.purge(queue)
    },
    lists,
  )

  test(
    open,
    'lists a released job and a delayed job that came due as waiting, as stats counts them',
    async () => {
      const b = lister(await open())
      const queue = q()
      const ready = jobs(queue, 2)
      const soon = jobs(queue, 1, { availableAt: Date.now() + 200 })
      await b.publish([...ready, ...soon])
      const [held] = await take(b, [queue], 1)
      assert.deepEqual(await b.release([held!]), [true])
      // Wait for the delayed job's time on the engine's own count, not on a sleep.
      for (;;) {
        const [s] = await b.stats([queue])
        if (s!.delayed === 0) break
        await sleep(50)
      }
      const waiting = await b.listJobs({ queue, state: 'waiting' })
      assert.deepEqual(new Set(waiting.map((j) => j.id)), new Set([...ready, ...soon].map((j) => j.id)))
      assert.equal(waiting.length, 3)
      assert.equal((await b.stats([queue]))[0]!.waiting, 3)
      assert.deepEqual(await b.listJobs({ queue, state: 'delayed' }), [])
      assert.deepEqual(await b.listJobs({ queue, state: 'active' }), [])
      const paged = [
        ...(await b.listJobs({ queue, state: 'waiting', limit: 2 })),
        ...(await b.listJobs({ queue, state: 'waiting', limit: 2, offset: 2 })),
      ]
      assert.deepEqual(
        paged.map((j) => j.id),
        waiting.map((j) => j.id),
      )
      await b.purge(queue)
    },
    lists,
  )
}
