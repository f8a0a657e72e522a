/**
 * Redis broker: a delayed job starts within a few ms of its time, also when a consumer was already
 * blocked waiting (its wait planned before the job existed), and not at the server's clock tick
 * (BLPOP timeouts fire every 100 ms at the default hz 10).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { RedisBroker } from './broker.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
const q = () => `rw-${randomUUID().slice(0, 8)}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('redis broker: delayed jobs on time', () => {
  const b = new RedisBroker(url)
  after(async () => {
    await b.close()
    const raw = new Redis(base)
    const keys = await raw.keys(`{${prefix}*`)
    if (keys.length) await raw.del(...keys)
    await raw.quit()
  })

  it('wakes a blocked consumer for a countdown of 50 ms published while it waits', async () => {
    await b.connect()
    for (const queues of [[q()], [q(), q()]]) {
      const queue = queues.at(-1)!
      const waiting = b.reserve(queues, 1, { leaseMs: 30_000, waitMs: 3000 })
      await sleep(30) // the consumer is in BLPOP with a 3 s window
      const sent = performance.now()
      await b.publish([{ id: 'c', queue, body: 'x', priority: 0, availableAt: Date.now() + 50 }])
      const got = await waiting
      const late = performance.now() - sent
      assert.equal(got[0]?.id, 'c')
      assert.ok(late >= 45 && late < 150, `started ${late.toFixed(1)} ms after a countdown of 50 ms`)
    }
  })

  it('wakes a blocked consumer for a retry delayed by 50 ms', async () => {
    const queue = q()
    await b.publish([{ id: 'r', queue, body: 'x', priority: 0 }])
    const [d] = await b.reserve([queue], 1, { leaseMs: 30_000 })
    const waiting = b.reserve([queue], 1, { leaseMs: 30_000, waitMs: 3000 })
    await sleep(30)
    const sent = performance.now()
    assert.deepEqual(await b.retry([{ ...d!, delayMs: 50, body: 'y' }]), [true])
    const got = await waiting
    const late = performance.now() - sent
    assert.equal(got[0]?.body, 'y')
    assert.ok(late >= 45 && late < 150, `started ${late.toFixed(1)} ms after a retry delay of 50 ms`)
  })

  it('starts a job due within the wait at its time, not at the next server tick', async () => {
    const queue = q()
    const late: number[] = []
    for (let i = 0; i < 5; i++) {
      const due = Date.now() + 60 + i * 7
      await b.publish([{ id: `t${i}`, queue, body: 'x', priority: 0, availableAt: due }])
      const got = await b.reserve([queue], 1, { leaseMs: 30_000, waitMs: 3000 })
      late.push(Date.now() - due)
      assert.equal(got[0]?.id, `t${i}`)
      await b.ack(got)
    }
    assert.ok(Math.max(...late) < 30, `late by ${late.join(', ')} ms`)
  })
})
