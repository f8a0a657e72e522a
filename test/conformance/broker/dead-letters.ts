/** The dead-letter store: list, replay, delete, prune; a replay never duplicates a live job. */
import assert from 'node:assert/strict'
import type { Broker } from '../../../src/contracts/broker.js'
import { counts, drain, jobs, q, sleep, take, test, type OpenBroker } from './support.js'

/** Publishes `n` jobs to `queue` and dead-letters them one by one, a few ms apart (newest last). */
async function killed(b: Broker, queue: string, n: number): Promise<string[]> {
  const sent = jobs(queue, n)
  await b.publish(sent)
  for (const d of await take(b, [queue], n)) {
    await sleep(5) // distinct failure times on engines that order by the clock
    assert.deepEqual(await b.deadLetter([{ ...d, reason: d.body }]), [true])
  }
  return sent.map((j) => j.id)
}

export function deadLetterTests(open: OpenBroker): void {
  test(open, 'dead-letters with a reason; lists, replays and deletes dead jobs', async () => {
    const b = await open()
    const queue = q()
    const sent = jobs(queue, 2)
    await b.publish(sent)
    const got = await take(b, [queue], 2)
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
    const [replayed] = await take(b, [queue], 10)
    assert.equal(replayed!.id, sent[0]!.id)
    assert.equal(replayed!.body, 'body-0')
    assert.equal(await b.deleteDead([sent[1]!.id]), 1)
    assert.equal((await b.listDead({ queue })).length, 0)
  })

  test(open, 'lists newest first, by queue, with limit and offset', async () => {
    const b = await open()
    const queue = q()
    const ids = await killed(b, queue, 4)
    const newestFirst = [...ids].reverse()
    assert.deepEqual(
      (await b.listDead({ queue })).map((d) => d.id),
      newestFirst,
    )
    assert.deepEqual(
      (await b.listDead({ queue, limit: 2, offset: 1 })).map((d) => d.id),
      newestFirst.slice(1, 3),
    )
    assert.equal(await b.deleteDead(ids), 4)
  })

  test(
    open,
    'replayDead leaves an entry whose id is live again dead, and does not count it',
    async () => {
      const b = await open()
      const queue = q()
      const [id, other] = await killed(b, queue, 2)
      // The same id published anew meanwhile: the live copy runs, the dead entry stays.
      await b.publish([{ id: id!, queue, body: 'fresh', priority: 0 }])
      assert.equal(await b.replayDead([id!]), 0)
      assert.equal(await b.replayDead([id!, other!]), 1, 'only the other one')
      assert.deepEqual(
        (await b.listDead({ queue })).map((d) => d.id),
        [id],
      )
      const got = await drain(b, [queue])
      assert.deepEqual(
        got.map((d) => [d.id, d.body]).sort(),
        [
          [id, 'fresh'],
          [other, 'body-1'],
        ].sort(),
      )
      assert.equal(await b.replayDead([id!]), 0, 'still active: skipped again')
      assert.equal((await b.listDead({ queue })).length, 1)
      await b.ack(got)
      await b.deleteDead([id!])
    },
    {
      when: (c) => c.idempotentPublish,
      why: 'without idempotentPublish the broker keeps no index of live ids: a replay always replays',
    },
  )

  test(open, 'prunes entries that failed before a time', async () => {
    const b = await open()
    const queue = q()
    const old = await killed(b, queue, 2)
    await sleep(20)
    const cut = Date.now()
    await sleep(20)
    const recent = await killed(b, queue, 2)
    // Other tests' older entries may go too: the count is at least ours.
    assert.ok((await b.pruneDead({ before: cut })) >= old.length)
    assert.deepEqual(
      (await b.listDead({ queue })).map((d) => d.id),
      [...recent].reverse(),
    )
    await b.deleteDead(recent)
  })

  test(open, 'prunes to the newest entries per queue', async () => {
    const b = await open()
    const [qa, qb] = [q(), q()]
    const a = await killed(b, qa, 4)
    const bb = await killed(b, qb, 2)
    assert.ok((await b.pruneDead({ keep: 2 })) >= 2)
    assert.deepEqual(
      (await b.listDead({ queue: qa })).map((d) => d.id),
      [a[3], a[2]],
      'the two newest of qa',
    )
    assert.deepEqual(
      (await b.listDead({ queue: qb })).map((d) => d.id),
      [bb[1], bb[0]],
      'qb had no more than two',
    )
    assert.equal(await b.pruneDead({ keep: 2 }), 0, 'nothing left beyond two per queue')
    await b.deleteDead([...a, ...bb])
  })
}
