/** Flow control in one process on the memory broker: each limit's semantics, before the e2e tests. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { createApp } from '../index.js'
import { parseRate } from '../core/rate.js'
import { Worker } from '../worker/worker.js'
import { setRateLimit } from './overrides.js'

const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function setup() {
  const app = createApp({ broker: `memory://${randomUUID()}` })
  const worker = (concurrency = 8) =>
    new Worker(app, { concurrency, logger: silent, lease: 5000, shutdownGrace: 2000 })
  return { app, worker }
}

describe('rates', () => {
  it('parses counts per s, m and h, with a burst, and refuses what is not a rate', () => {
    assert.deepEqual(parseRate('100/s'), { rate: 100, perMs: 1000, burst: 20 })
    assert.deepEqual(parseRate('10/s'), { rate: 10, perMs: 1000, burst: 2 })
    assert.deepEqual(parseRate('20/m burst 3'), { rate: 20, perMs: 60_000, burst: 3 })
    assert.deepEqual(parseRate('5/h'), { rate: 5, perMs: 3_600_000, burst: 1 })
    assert.deepEqual(parseRate({ rate: 2, per: '10s' }), { rate: 2, perMs: 10_000, burst: 1 })
    assert.throws(() => parseRate('100'), /"100" is not a rate; write a count per s, m or h/)
    assert.throws(() => parseRate('0/s'), /count must be a positive number/)
    assert.throws(() => parseRate('5/s burst 0'), /burst must be at least 1/)
  })

  it('task options are checked when the task is defined', () => {
    const app = createApp({ broker: 'memory://x' })
    assert.throws(
      () => app.task('a', () => 1, { rateLimit: 'fast' }),
      /task "a": rateLimit "fast" is not a rate/,
    )
    assert.throws(() => app.task('b', () => 1, { perKey: { concurrency: 2 } }), /perKey needs limitKey/)
    assert.throws(
      () => app.task('c', (_c, t: string) => t, { limitKey: (t) => t, perKey: { concurrency: 0 } }),
      /perKey.concurrency must be a whole number from 1 to 1000, got 0/,
    )
    assert.throws(
      () => app.task('d', () => 1, { unique: { key: 'k', ttl: '1m' }, debounce: { key: 'k', delay: 10 } }),
      /cannot be combined/,
    )
  })
})

describe('flow control (in process, memory broker)', () => {
  const stops: (() => Promise<void>)[] = []
  after(async () => {
    for (const s of stops) await s()
  })

  it('a global rate limit defers jobs over it without counting deliveries or retries', async () => {
    const { app, worker } = setup()
    const starts: number[] = []
    const seen: { deliveries: number; retries: number }[] = []
    const t = app.task(
      'limited',
      (ctx) => {
        starts.push(Date.now())
        seen.push({ deliveries: ctx.deliveries, retries: ctx.retries })
      },
      { rateLimit: '20/s burst 1' },
    )
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const t0 = Date.now()
    const rs = await t.sendMany(Array.from({ length: 20 }, () => []))
    await Promise.all(rs.map((r) => r.get({ timeout: 10_000 })))
    const took = Date.now() - t0
    assert.ok(took >= 900, `20 jobs at 20/s with a burst of 1 take about a second, took ${took} ms`)
    assert.ok(w.stats.deferred > 0, 'jobs were deferred')
    assert.ok(
      seen.every((s) => s.deliveries === 1 && s.retries === 0),
      'deferrals counted neither deliveries nor retries',
    )
  })

  it('per-key concurrency: never more than N of a key at once; other keys are not held back', async () => {
    const { app, worker } = setup()
    const running = new Map<string, number>()
    const most = new Map<string, number>()
    const t = app.task(
      'tenant.job',
      async (_ctx, tenant: string) => {
        const n = (running.get(tenant) ?? 0) + 1
        running.set(tenant, n)
        most.set(tenant, Math.max(most.get(tenant) ?? 0, n))
        await sleep(20)
        running.set(tenant, running.get(tenant)! - 1)
      },
      { limitKey: (tenant) => tenant, perKey: { concurrency: 2 } },
    )
    const w = worker(10)
    await w.start()
    stops.push(() => w.stop())
    const rs = await t.sendMany([...Array.from({ length: 30 }, () => ['a'] as [string]), ['b'], ['b'], ['b']])
    await Promise.all(rs.map((r) => r.get({ timeout: 20_000 })))
    assert.equal(most.get('a'), 2)
    assert.ok((most.get('b') ?? 0) <= 2)
  })

  it('unique: a second send while the first waits or runs answers the first; a send after it finished runs', async () => {
    const { app, worker } = setup()
    let runs = 0
    const t = app.task(
      'report',
      async (_ctx, account: string) => {
        runs++
        await sleep(100)
        return account
      },
      { unique: { key: (account) => account, ttl: '1m' } },
    )
    const first = await t.delay('acme')
    const again = await Promise.all([t.delay('acme'), t.delay('acme')])
    assert.deepEqual(
      again.map((r) => r.id),
      [first.id, first.id],
    )
    const other = await t.delay('globex')
    assert.notEqual(other.id, first.id)
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    assert.equal(await first.get({ timeout: 5000 }), 'acme')
    await other.get({ timeout: 5000 })
    // The key is given back after the outcome is written.
    let later = await t.delay('acme')
    for (let i = 0; i < 50 && later.id === first.id; i++) {
      await sleep(20)
      later = await t.delay('acme')
    }
    assert.notEqual(later.id, first.id, 'a send after the first finished is a new job')
    await later.get({ timeout: 5000 })
    assert.equal(runs, 3)
  })

  it('debounce: sends within the window run once, with the last arguments; the others read REVOKED', async () => {
    const { app, worker } = setup()
    const ran: number[] = []
    const t = app.task(
      'reindex',
      (_ctx, _doc: string, version: number) => {
        ran.push(version)
        return version
      },
      { debounce: { key: (doc) => doc, delay: 300 } },
    )
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const rs = []
    for (let v = 1; v <= 5; v++) {
      rs.push(await t.delay('doc1', v))
      await sleep(20)
    }
    assert.equal(await rs[4]!.get({ timeout: 5000 }), 5)
    await sleep(100)
    assert.deepEqual(ran, [5])
    for (const r of rs.slice(0, 4)) {
      assert.equal(await r.state(), 'REVOKED')
      await assert.rejects(r.get({ timeout: 1000 }), /debounced: superseded by a later send/)
    }
  })

  it('a rate set at run time through records reaches a running worker, and clearing it restores the code limit', async () => {
    const { app, worker } = setup()
    const t = app.task('free', () => 1)
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    await setRateLimit((await app.coordination())!, { task: 'free' }, '5/s burst 1')
    await sleep(1300)
    const t0 = Date.now()
    const rs = await t.sendMany(Array.from({ length: 6 }, () => []))
    await Promise.all(rs.map((r) => r.get({ timeout: 10_000 })))
    assert.ok(Date.now() - t0 >= 900, 'limited to 5/s')
    await setRateLimit((await app.coordination())!, { task: 'free' }, null)
    await sleep(1300)
    const t1 = Date.now()
    const more = await t.sendMany(Array.from({ length: 20 }, () => []))
    await Promise.all(more.map((r) => r.get({ timeout: 10_000 })))
    assert.ok(Date.now() - t1 < 900, 'no limit once cleared')
  })
})
