/**
 * The broker conformance suite. Every broker runs it unchanged:
 *   brokerConformance({ name: 'sqlite', open: () => ... })
 * `open()` returns a new, connected client of the same backend (for networked brokers, a new
 * connection), so tests with several consumers exercise real concurrency. Each test works on its
 * own queue names, so a backend need not be emptied between tests.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import type { Broker, Delivery, OutgoingJob, QueueStats } from '../../src/contracts/broker.js'

export interface ConformanceTarget {
  readonly name: string
  open(): Promise<Broker>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The job counts of a stats row, for exact comparison. */
function counts(
  s: QueueStats | undefined,
): Pick<QueueStats, 'queue' | 'waiting' | 'delayed' | 'active' | 'dead'> {
  assert.ok(s, 'a stats row for the queue')
  return { queue: s.queue, waiting: s.waiting, delayed: s.delayed, active: s.active, dead: s.dead }
}

function q(): string {
  return `cq-${randomUUID().slice(0, 8)}`
}

function jobs(queue: string, n: number, extra: Partial<OutgoingJob> = {}): OutgoingJob[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    queue,
    body: `body-${i}`,
    priority: 0,
    ...extra,
  }))
}

async function drain(b: Broker, queues: string[], leaseMs = 30_000): Promise<Delivery[]> {
  const out: Delivery[] = []
  for (;;) {
    const got = await b.reserve(queues, 100, { leaseMs })
    if (!got.length) return out
    out.push(...got)
  }
}

export function brokerConformance(target: ConformanceTarget): void {
  describe(`broker conformance: ${target.name}`, () => {
    const opened: Broker[] = []
    const open = async () => {
      const b = await target.open()
      opened.push(b)
      return b
    }
    after(async () => {
      await Promise.all(opened.map((b) => b.close()))
    })

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
      }
      assert.deepEqual(await b.ack(got), [true, true, true])
      assert.deepEqual(await b.ack(got), [false, false, false], 'a second ack changes nothing')
      assert.deepEqual(await b.reserve([queue], 10, { leaseMs: 30_000 }), [])
      const [s] = await b.stats([queue])
      assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 0, active: 0, dead: 0 })
    })

    it('skips repeated ids when the broker publishes idempotently', async (t) => {
      const b = await open()
      if (!b.capabilities.idempotentPublish) return t.skip('this broker does not promise idempotent publish')
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
      const [s] = await b.stats([queue])
      assert.equal(s!.active, 1, 'the live delivery is untouched')
      assert.deepEqual(await b.ack([second]), [true])
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

    it('dead-letters with a reason; lists, replays and deletes dead jobs', async () => {
      const b = await open()
      const queue = q()
      const sent = jobs(queue, 2)
      await b.publish(sent)
      const got = await b.reserve([queue], 2, { leaseMs: 30_000 })
      assert.deepEqual(
        await b.deadLetter(got.map((d, i) => ({ id: d.id, token: d.token, reason: `reason ${i}` }))),
        [true, true],
      )
      const dead = await b.listDead({ queue })
      assert.equal(dead.length, 2)
      assert.deepEqual(new Set(dead.map((d) => d.reason)), new Set(['reason 0', 'reason 1']))
      assert.ok(dead.every((d) => d.queue === queue && d.failedAt > 0 && d.deliveries === 1))
      const [s] = await b.stats([queue])
      assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 0, active: 0, dead: 2 })
      assert.equal(await b.replayDead([sent[0]!.id]), 1)
      const [replayed] = await b.reserve([queue], 10, { leaseMs: 30_000 })
      assert.equal(replayed!.id, sent[0]!.id)
      assert.equal(replayed!.body, 'body-0')
      assert.equal(await b.deleteDead([sent[1]!.id]), 1)
      assert.equal((await b.listDead({ queue })).length, 0)
    })

    it('purges waiting and delayed jobs, not active ones', async () => {
      const b = await open()
      const queue = q()
      await b.publish([...jobs(queue, 5), ...jobs(queue, 2, { availableAt: Date.now() + 60_000 })])
      const [active] = await b.reserve([queue], 1, { leaseMs: 30_000 })
      assert.equal(await b.purge(queue), 6)
      const [s] = await b.stats([queue])
      assert.deepEqual(counts(s), { queue, waiting: 0, delayed: 0, active: 1, dead: 0 })
      assert.deepEqual(await b.ack([active!]), [true])
    })

    it('counts waiting, delayed, active and dead per queue', async () => {
      const b = await open()
      const queue = q()
      await b.publish([...jobs(queue, 4), ...jobs(queue, 3, { availableAt: Date.now() + 60_000 })])
      const got = await b.reserve([queue], 2, { leaseMs: 30_000 })
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

    it('counts settled jobs as throughput', async () => {
      const b = await open()
      const queue = q()
      await b.publish(jobs(queue, 12))
      const got = await b.reserve([queue], 12, { leaseMs: 30_000 })
      await b.ack(got.slice(0, 9))
      await b.deadLetter(got.slice(9).map((d) => ({ id: d.id, token: d.token, reason: 'r' })))
      const [s] = await b.stats([queue])
      // 12 jobs over a window of 50 to 60 seconds.
      assert.ok(s!.throughput >= 0.19 && s!.throughput <= 0.25, `throughput ${s!.throughput}`)
      const [other] = await b.stats([q()])
      assert.equal(other!.throughput, 0)
    })

    it('pauses and resumes a queue: nothing is delivered while paused, publishing still works', async () => {
      const b = await open()
      const consumer = await open()
      const [queue, open2] = [q(), q()]
      await b.publish([...jobs(queue, 2), ...jobs(open2, 1)])
      await b.pause(queue)
      const [s] = await b.stats([queue])
      assert.equal(s!.paused, true)
      await b.publish(jobs(queue, 1))
      const got = await consumer.reserve([queue, open2], 10, { leaseMs: 30_000 })
      assert.deepEqual(
        got.map((d) => d.queue),
        [open2],
        'only the queue that is not paused delivers',
      )
      assert.deepEqual(await consumer.reserve([queue], 10, { leaseMs: 30_000, waitMs: 200 }), [])
      const waiting = consumer.reserve([queue], 10, { leaseMs: 30_000, waitMs: 3000 })
      await sleep(100)
      await b.resume(queue)
      const after = await waiting
      assert.ok(after.length >= 1, 'resume wakes a waiting consumer')
      const rest = after.length < 3 ? await consumer.reserve([queue], 10, { leaseMs: 30_000 }) : []
      assert.equal(after.length + rest.length, 3)
      const [s2] = await b.stats([queue])
      assert.equal(s2!.paused, false)
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
  })
}
