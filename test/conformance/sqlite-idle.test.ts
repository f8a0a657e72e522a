/**
 * Idle SQLite consumers: a commit wakes every waiting consumer of the file, and each must find out
 * without the write lock whether anything is ready for its own queues.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { SqliteBroker } from '../../src/brokers/sqlite/index.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const file = join(mkdtempSync(join(tmpdir(), 'celeriac-idle-')), 'queue.db')

describe('SQLite: idle consumers', () => {
  const opened: SqliteBroker[] = []
  const open = async () => {
    const b = new SqliteBroker(file)
    await b.connect()
    opened.push(b)
    return b
  }
  after(async () => {
    for (const b of opened) await b.close()
  })

  it('do not take the write lock when jobs are published to other queues', async () => {
    const producer = await open()
    const busy = `busy-${randomUUID().slice(0, 8)}`
    const idle = await Promise.all([1, 2, 3].map(() => open()))
    const worker = await open()
    const before = idle.map((b) => b.database.writeLocks)
    const waits = idle.map((b, i) =>
      b.reserve([`idle-${i}-${randomUUID()}`], 10, { leaseMs: 30_000, waitMs: 1500 }),
    )
    let received = 0
    const consuming = (async () => {
      while (received < 40) {
        const got = await worker.reserve([busy], 10, { leaseMs: 30_000, waitMs: 1500 })
        if (!got.length) break
        received += got.length
        await worker.ack(got)
      }
    })()
    for (let i = 0; i < 20; i++) {
      await producer.publish([0, 1].map(() => ({ id: randomUUID(), queue: busy, body: 'x', priority: 0 })))
      await sleep(20)
    }
    assert.deepEqual(
      (await Promise.all(waits)).map((got) => got.length),
      [0, 0, 0],
    )
    await consuming
    assert.equal(received, 40, 'the consumer of the busy queue got every job')
    assert.deepEqual(
      idle.map((b, i) => b.database.writeLocks - before[i]!),
      [0, 0, 0],
      'no BEGIN IMMEDIATE by consumers of other queues',
    )
    assert.ok(worker.database.writeLocks > 0)
  })

  it('take the write lock once a delayed job of their queue comes due', async () => {
    const producer = await open()
    const consumer = await open()
    const queue = `due-${randomUUID().slice(0, 8)}`
    await producer.publish([
      { id: randomUUID(), queue, body: 'x', priority: 0, availableAt: Date.now() + 300 },
    ])
    const before = consumer.database.writeLocks
    const t0 = Date.now()
    const got = await consumer.reserve([queue], 1, { leaseMs: 30_000, waitMs: 2000 })
    assert.equal(got.length, 1)
    assert.ok(Date.now() - t0 >= 250)
    assert.equal(consumer.database.writeLocks - before, 1, 'one write transaction, when the job was due')
  })
})
