/**
 * Redis broker: place in line where the layout has edges the conformance suite does not reach:
 * expired leases and releases mixed, the multi-queue path, send tags across a digit boundary,
 * dead-letter batches larger than the index's per-millisecond spread, and values written by an
 * earlier version of the broker (no place in the active hash, no send tag in delayed members).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { Delivery, OutgoingJob } from '../../contracts/broker.js'
import { RedisBroker } from './broker.js'
import { QueueKeys } from './keys.js'
import { entry } from './wire.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const q = () => `ro-${randomUUID().slice(0, 8)}`
const jobs = (queue: string, n: number, extra: Partial<OutgoingJob> = {}): OutgoingJob[] =>
  Array.from({ length: n }, (_, i) => ({ id: randomUUID(), queue, body: `b${i}`, priority: 0, ...extra }))
const ids = (xs: readonly { id: string }[]) => xs.map((x) => x.id)
const lease = { leaseMs: 30_000 }

describe('redis broker: place in line', () => {
  const raw = new Redis(base)
  const b = new RedisBroker(url)
  after(async () => {
    await b.close()
    const keys = await raw.keys(`{${prefix}*`)
    if (keys.length) await raw.del(...keys)
    await raw.quit()
  })

  it('expired leases and released jobs come back oldest first, whatever order they came back in', async () => {
    await b.connect()
    const queue = q()
    const sent = jobs(queue, 4, { priority: 4 })
    await b.publish(sent)
    // Taken one at a time; the later taken, the sooner its lease ends.
    const taken: Delivery[] = []
    for (const ms of [400, 250, 30_000, 100]) taken.push(...(await b.reserve([queue], 1, { leaseMs: ms })))
    await b.publish(jobs(queue, 1, { priority: 4, body: 'newer' }))
    assert.deepEqual(await b.release([taken[2]!]), [true])
    await sleep(500)
    // Across two queues: the peek script counts returned jobs, the reserve script takes them.
    const got = await b.reserve([q(), queue], 10, lease)
    assert.deepEqual(ids(got).slice(0, 4), ids(sent))
    assert.equal(got[4]!.body, 'newer')
    assert.deepEqual(
      got.map((d) => d.deliveries),
      [2, 2, 1, 2, 1],
      'released: not counted',
    )
  })

  it('orders delayed jobs due together by send order also when the counter gains a digit', async () => {
    await b.connect()
    const queue = q()
    const k = new QueueKeys(prefix, queue)
    await raw.set(k.seq, 7)
    const at = Date.now() + 100
    const sent = jobs(queue, 5, { availableAt: at })
    for (const j of sent) await b.publish([j]) // counter values 8, 9, 10, 11, 12
    await sleep(at - Date.now() + 50)
    assert.deepEqual(ids(await b.reserve([queue], 10, lease)), ids(sent))
  })

  it('keeps the failure order of a dead-letter batch of 3,000 (more than one millisecond of spread)', async () => {
    await b.connect()
    const queue = q()
    const sent = jobs(queue, 3000)
    await b.publish(sent)
    const taken: Delivery[] = []
    while (taken.length < sent.length) taken.push(...(await b.reserve([queue], 1000, lease)))
    const order = taken // random ids: their order is unrelated to this one
    assert.ok((await b.deadLetter(order.map((d) => ({ ...d, reason: 'r' })))).every(Boolean))
    const listed = await b.listDead({ queue, limit: 3000 })
    assert.deepEqual(ids(listed), ids(order).reverse())
    assert.equal(
      new Set(listed.map((d) => d.failedAt)).size,
      1,
      'failedAt: the ms of the call, not the spread',
    )
    assert.equal(await b.pruneDead({ keep: 10 }), 2990)
    assert.equal(await b.replayDead(ids(order).slice(-10).reverse()), 10)
    assert.deepEqual(ids(await b.reserve([queue], 10, lease)), ids(order).slice(-10))
  })

  it('reads leased values and delayed members written before places and send tags were kept', async () => {
    await b.connect()
    const queue = q()
    const k = new QueueKeys(prefix, queue)
    const [a, c, x] = jobs(queue, 3, { priority: 6 })
    await b.publish([a!, c!, x!])
    const [da, dc, dx] = await b.reserve([queue], 3, { leaseMs: 60_000 })
    // The former active value: "<priority>:<deliveries>:<body>", no place.
    await raw.hset(k.active, a!.id, '6:1:old a', c!.id, '6:1:old c', x!.id, '6:1:old x')
    // A lease of the former layout that expires: it comes back too, at its token's place.
    await raw.zadd(k.leases, 0, `${dx!.token.split(':')[0]}:${x!.id}`)
    // Delayed members of the former layout ("<priority>:<entry>"), due now, beside a new one.
    const old1 = randomUUID()
    const old2 = randomUUID()
    await raw.zadd(
      k.delayed,
      1,
      `6:${entry(0, old1, 'old delayed')}`,
      2,
      `6:${entry(3, old2, 'old delayed 2')}`,
    )
    // Delayed when published (a loaded machine may take a while to get there), due when reserved.
    const due = Date.now() + 300
    await b.publish(jobs(queue, 1, { priority: 6, body: 'new delayed', availableAt: due }))
    assert.deepEqual(await b.release([dc!, da!]), [true, true])
    await sleep(due - Date.now() + 20)
    const got = await b.reserve([queue], 10, lease)
    assert.deepEqual(
      got.map((d) => [d.body, d.deliveries, d.priority]),
      [
        ['old a', 1, 6],
        ['old c', 1, 6],
        ['old x', 2, 6],
        ['old delayed', 1, 6],
        ['old delayed 2', 4, 6],
        ['new delayed', 1, 6],
      ],
    )
    assert.deepEqual(await b.ack(got), new Array(6).fill(true))
    const [s] = await b.stats([queue])
    assert.deepEqual([s!.waiting, s!.active, s!.dead], [0, 0, 0])
  })

  it('counts returned jobs as waiting and purges them', async () => {
    await b.connect()
    const queue = q()
    await b.publish(jobs(queue, 3))
    const got = await b.reserve([queue], 3, lease)
    assert.deepEqual(await b.release(got.slice(0, 2)), [true, true])
    const [s] = await b.stats([queue])
    assert.deepEqual([s!.waiting, s!.active], [2, 1])
    assert.equal(await b.purge(queue), 2)
    assert.deepEqual(await b.reserve([queue], 3, lease), [])
    assert.deepEqual(await b.ack([got[2]!]), [true])
  })
})
