/** Redis broker: fences, dead-letter retention, and what a repeated id may and may not do. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { OutgoingJob } from '../../contracts/broker.js'
import { RedisBroker } from './broker.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const q = () => `rd-${randomUUID().slice(0, 8)}`
const job = (queue: string, body = 'b', extra: Partial<OutgoingJob> = {}): OutgoingJob => ({
  id: randomUUID(),
  queue,
  body,
  priority: 0,
  ...extra,
})
const lease = { leaseMs: 30_000 }

describe('redis broker: fences and dead letters', () => {
  const raw = new Redis(base)
  const b = new RedisBroker(url)
  after(async () => {
    await b.close()
    const keys = await raw.keys(`{${prefix}*`) // also the -replay prefix
    if (keys.length) await raw.del(...keys)
    await raw.quit()
  })

  it('gives every delivery of a job a higher fence: lease expiry, release, retry, replay', async () => {
    await b.connect()
    const queue = q()
    const j = job(queue)
    await b.publish([j])
    const fences: number[] = []
    const [d1] = await b.reserve([queue], 1, { leaseMs: 50 })
    fences.push(d1!.fence)
    await sleep(100)
    const [d2] = await b.reserve([queue], 1, lease) // the lease expired
    fences.push(d2!.fence)
    await b.release([d2!])
    const [d3] = await b.reserve([queue], 1, lease)
    fences.push(d3!.fence)
    await b.retry([{ ...d3!, body: 'again', delayMs: 0 }])
    const [d4] = await b.reserve([queue], 1, lease)
    fences.push(d4!.fence)
    await b.deadLetter([{ ...d4!, reason: 'r' }])
    assert.equal(await b.replayDead([j.id]), 1)
    const [d5] = await b.reserve([queue], 1, lease)
    fences.push(d5!.fence)
    assert.ok(
      fences.every((f, i) => Number.isInteger(f) && (i === 0 || f > fences[i - 1]!)),
      fences.join(' '),
    )
    assert.equal(d5!.token.split(':')[0], String(d5!.fence))
    await b.ack([d5!])
  })

  it('prunes dead entries by age and by count, per queue, newest kept', async () => {
    const [q1, q2] = [q(), q()]
    const sent = [...[0, 1, 2].map((i) => job(q1, `a${i}`)), ...[0, 1].map((i) => job(q2, `b${i}`))]
    for (const j of sent) {
      await b.publish([j])
      const [d] = await b.reserve([j.queue], 1, lease)
      await b.deadLetter([{ ...d!, reason: j.body }])
      await sleep(3)
    }
    const failedAt = new Map((await b.listDead({ queue: q1 })).map((d) => [d.body, d.failedAt]))
    // Older than the second dead job of q1: only the first goes.
    assert.equal(await b.pruneDead({ before: failedAt.get('a1')! }), 1)
    assert.deepEqual(
      (await b.listDead({ queue: q1 })).map((d) => d.body),
      ['a2', 'a1'],
    )
    assert.equal(await b.pruneDead({ keep: 1 }), 2, 'one of q1 and one of q2')
    assert.deepEqual(
      (await b.listDead({ queue: q1 })).map((d) => d.body),
      ['a2'],
    )
    assert.deepEqual(
      (await b.listDead({ queue: q2 })).map((d) => d.body),
      ['b1'],
    )
    const [s] = await b.stats([q1])
    assert.equal(s!.dead, 1, 'the dead index shrank with the hash')
    assert.equal(await b.pruneDead({}), 0)
    await assert.rejects(b.pruneDead({ keep: -1 }), RangeError)
  })

  it('a resent id while the first copy is leased is skipped, so no settle loses the job', async () => {
    const queue = q()
    const j = job(queue, 'first')
    await b.publish([j])
    const held = await b.reserve([queue], 10, lease)
    // A resend after "the command may have run": it must not store a second copy whose body the
    // first copy's settle would delete (the active hash is keyed by id).
    await b.publish([{ ...j, body: 'resent' }])
    held.push(...(await b.reserve([queue], 10, lease)))
    assert.deepEqual(
      held.map((d) => d.body),
      ['first'],
    )
    assert.deepEqual(await b.retry(held.map((d) => ({ ...d, body: 'retried', delayMs: 0 }))), [true])
    const again = await b.reserve([queue], 10, lease)
    assert.deepEqual(
      again.map((d) => [d.id, d.body]),
      [[j.id, 'retried']],
    )
    assert.deepEqual(await b.deadLetter(again.map((d) => ({ ...d, reason: 'r' }))), [true])
    const [s] = await b.stats([queue])
    assert.deepEqual([s!.waiting, s!.delayed, s!.active, s!.dead], [0, 0, 0, 1])
    // Dead is not live: the same id can be published again.
    await b.publish([j])
    assert.equal((await b.stats([queue]))[0]!.waiting, 1)
  })

  it('skips ids live as delayed jobs, and repeats within one batch', async () => {
    const queue = q()
    const later = job(queue, 'later', { availableAt: Date.now() + 60_000 })
    const now = job(queue, 'now')
    await b.publish([later, now, { ...now, body: 'dup' }])
    await b.publish([
      { ...later, availableAt: undefined },
      { ...now, availableAt: Date.now() + 60_000 },
    ])
    const [s] = await b.stats([queue])
    assert.deepEqual([s!.waiting, s!.delayed], [1, 1])
    assert.equal(await b.purge(queue), 2)
    await b.publish([later])
    assert.equal((await b.stats([queue]))[0]!.delayed, 1, 'purged ids are no longer live')
  })

  it('purge keeps leased ids live', async () => {
    const queue = q()
    const j = job(queue)
    await b.publish([j, job(queue)])
    const [d] = await b.reserve([queue], 1, lease)
    assert.equal(await b.purge(queue), 1)
    await b.publish([j])
    assert.deepEqual(await b.reserve([queue], 10, lease), [], 'still leased: not stored again')
    assert.deepEqual(await b.ack([d!]), [true])
  })

  it('replay leaves an entry dead, uncounted, while its id is live again', async () => {
    // A prefix of its own: replayDead() without ids replays every queue under it.
    const b = new RedisBroker(`${url}-replay`)
    await b.connect()
    after(() => b.close())
    const queue = q()
    const [j, k] = [job(queue, 'j'), job(queue, 'k')]
    await b.publish([j, k])
    const got = await b.reserve([queue], 2, lease)
    await b.deadLetter(got.map((d) => ({ ...d, reason: 'r' })))
    await b.publish([{ ...j, body: 'anew' }])
    assert.equal(await b.replayDead([j.id]), 0)
    assert.equal(await b.replayDead(), 1, 'only k')
    assert.deepEqual(
      (await b.listDead({ queue })).map((d) => d.id),
      [j.id],
    )
    const live = await b.reserve([queue], 10, lease)
    assert.deepEqual(live.map((d) => d.body).sort(), ['anew', 'k'])
    await b.ack(live)
    assert.equal(await b.replayDead([j.id]), 1, 'no longer live: replayed')
    const [replayed] = await b.reserve([queue], 10, lease)
    assert.equal(replayed!.body, 'j')
    assert.ok(replayed!.fence > Math.max(...live.map((d) => d.fence)))
  })
})
