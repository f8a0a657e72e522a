/**
 * SQLite broker rules beyond the shared suite: fences that grow with every delivery of a job,
 * dead-letter retention and replay of an id that is live again.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { SqliteBroker } from '../../src/brokers/sqlite/index.js'
import type { OutgoingJob } from '../../src/contracts/broker.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const dir = mkdtempSync(join(tmpdir(), 'celeriac-sqlite-broker-'))
const file = join(dir, 'queue.db')
const q = () => `sq-${randomUUID().slice(0, 8)}`
const job = (queue: string, body = 'b'): OutgoingJob => ({ id: randomUUID(), queue, body, priority: 0 })

describe('SQLite broker: fences, dead letters', () => {
  const opened: SqliteBroker[] = []
  const open = async (path = file) => {
    const b = new SqliteBroker(path)
    await b.connect()
    opened.push(b)
    return b
  }
  after(async () => {
    for (const b of opened) await b.close()
  })

  it('gives every delivery of a job a higher fence: lease expiry, retry, release, replay', async () => {
    const b = await open()
    const other = await open()
    const queue = q()
    const j = job(queue)
    await b.publish([j])
    const fences: number[] = []
    const [d1] = await b.reserve([queue], 1, { leaseMs: 50 })
    fences.push(d1!.fence)
    // Another connection reserving in between must not be able to hand out a lower fence later.
    await other.publish([job(queue)])
    await other.ack(
      await other.reserve([queue], 5, { leaseMs: 60_000 }).then((ds) => ds.filter((d) => d.id !== j.id)),
    )
    await sleep(80)
    const [d2] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    assert.equal(d2!.id, j.id, 'redelivered after the lease expired')
    fences.push(d2!.fence)
    assert.deepEqual(await b.retry([{ ...d2!, body: 'again', delayMs: 0 }]), [true])
    const [d3] = await other.reserve([queue], 1, { leaseMs: 30_000 })
    fences.push(d3!.fence)
    assert.deepEqual(await other.release([d3!]), [true])
    const [d4] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    fences.push(d4!.fence)
    assert.deepEqual(await b.deadLetter([{ ...d4!, reason: 'boom' }]), [true])
    assert.equal(await b.replayDead([j.id]), 1)
    const [d5] = await other.reserve([queue], 1, { leaseMs: 30_000 })
    assert.equal(d5!.id, j.id)
    fences.push(d5!.fence)
    for (let i = 1; i < fences.length; i++)
      assert.ok(fences[i]! > fences[i - 1]!, `fences grow: ${fences.join(', ')}`)
    assert.ok(fences.every(Number.isSafeInteger))
    assert.deepEqual(await other.ack([d5!]), [true])
  })

  it('replays only entries whose id is not live again; those stay dead and are not counted', async () => {
    const b = await open()
    const queue = q()
    const [a, c] = [job(queue, 'a'), job(queue, 'c')]
    await b.publish([a, c])
    const got = await b.reserve([queue], 2, { leaseMs: 30_000 })
    await b.deadLetter(got.map((d) => ({ ...d, reason: 'r' })))
    // `a` is published anew meanwhile: its dead entry stays and publish does not touch it.
    await b.publish([{ ...a, body: 'a again' }])
    assert.equal((await b.listDead({ queue })).length, 2)
    assert.equal(await b.replayDead([a.id, c.id]), 1)
    assert.deepEqual(
      (await b.listDead({ queue })).map((d) => d.id),
      [a.id],
    )
    assert.equal(await b.replayDead(), 0, 'replay of all skips it too')
    const back = await b.reserve([queue], 10, { leaseMs: 30_000 })
    assert.deepEqual(back.map((d) => d.body).sort(), ['a again', 'c'])
    await b.ack(back)
    assert.equal(await b.replayDead(), 1, 'once the live copy is gone it can be replayed')
  })

  it('prunes dead entries older than a time, and beyond the newest N per queue', async () => {
    // A file of its own: retention applies to every queue of the file.
    const b = await open(join(dir, 'prune.db'))
    const [q1, q2] = [q(), q()]
    const dead = async (queue: string, n: number) => {
      await b.publish(Array.from({ length: n }, () => job(queue)))
      const got = await b.reserve([queue], n, { leaseMs: 30_000 })
      await b.deadLetter(got.map((d) => ({ ...d, reason: 'r' })))
      return got.map((d) => d.id)
    }
    const old1 = await dead(q1, 2)
    await sleep(20)
    const cut = Date.now()
    await sleep(5)
    const new1 = await dead(q1, 3)
    const new2 = await dead(q2, 1)
    assert.equal(await b.pruneDead({ before: cut, keep: 2 }), 2 + 1)
    const left1 = (await b.listDead({ queue: q1 })).map((d) => d.id)
    assert.equal(left1.length, 2)
    assert.ok(left1.every((id) => new1.includes(id) && !old1.includes(id)))
    assert.deepEqual(
      (await b.listDead({ queue: q2 })).map((d) => d.id),
      new2,
    )
    assert.equal(await b.pruneDead({ keep: 0 }), 3)
    assert.equal((await b.listDead()).length, 0)
  })
})
