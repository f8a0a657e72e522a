/**
 * Several workers on one engine, faults and shutdown: shared work without double runs, a lapsed
 * lease that must not overwrite the run that took over, warm shutdown and the end of the grace,
 * backpressure when acks fail, housekeeping on one worker.
 */
import assert from 'node:assert/strict'
import type { App } from '../../../src/index.js'
import { cutConnection } from '../../support/cut-connection.js'
import { sleep, until, check, type WorkerTarget } from './harness.js'

export function sharingTests(target: WorkerTarget): void {
  check(target, 'two workers on two apps share the work, and no job runs twice', async (h) => {
    const runs = new Map<string, number>()
    const ranOn = { a: 0, b: 0 }
    const define = (app: App, who: 'a' | 'b') =>
      app.task('work', async (ctx, i: number) => {
        runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1)
        ranOn[who]++
        await sleep(5)
        return i
      })
    const [a, b] = [h.app(), h.app()]
    const work = define(a, 'a')
    define(b, 'b')
    await h.worker(a, { concurrency: 2, prefetch: 1 })
    await h.worker(b, { concurrency: 2, prefetch: 1 })
    const sent = await work.sendMany(Array.from({ length: 40 }, (_, i) => [i] as [number]))
    const values = await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })))
    assert.deepEqual(
      values,
      Array.from({ length: 40 }, (_, i) => i),
    )
    assert.equal(runs.size, 40)
    assert.deepEqual(
      [...runs].filter(([, n]) => n !== 1),
      [],
      'every job ran exactly once',
    )
    assert.ok(ranOn.a > 0 && ranOn.b > 0, `both workers ran jobs (${ranOn.a} and ${ranOn.b})`)
  })

  check(
    target,
    'a worker whose lease lapsed cannot overwrite the SUCCESS of the worker that took over',
    async (h) => {
      const { app: slowApp, broker: slow } = await h.faultyApp()
      // How a lease lapses: timed leases when the heartbeats do not reach the broker; connection
      // leases when the connection is cut (RabbitMQ requeues what it held).
      const timed = slow.capabilities.leases === 'timed'
      if (timed) slow.faults.set('extend', 'drop')
      const fastApp = h.app()
      let endFirstRun!: () => void
      const firstRunMayEnd = new Promise<void>((r) => (endFirstRun = r))
      const define = (app: App) =>
        app.task('flaky', async (ctx) => {
          if (ctx.deliveries === 1) {
            await firstRunMayEnd
            throw new Error('the first run failed late')
          }
          return 'second run'
        })
      const task = define(slowApp)
      define(fastApp)
      const a = await h.worker(slowApp, { lease: 200, concurrency: 1, prefetch: 0 })
      const r = await task.delay()
      await until('the first run to start', () => a.stats.running === 1)
      await h.worker(fastApp, { concurrency: 1 })
      if (!timed) await cutConnection(slow.inner)
      assert.equal(await fastApp.asyncResult(r.id).get({ timeout: 10_000 }), 'second run')
      endFirstRun()
      await until('the first run to settle', () => a.stats.running === 0 && a.stats.stale >= 1)
      await sleep(50)
      const record = await fastApp.asyncResult(r.id).record()
      assert.equal(record?.state, 'SUCCESS', 'the stale FAILURE was refused')
      assert.equal(await fastApp.asyncResult(r.id).get({ timeout: 1000 }), 'second run')
      const broker = await fastApp.broker()
      assert.deepEqual(await broker.listDead(), [], 'the stale dead-letter was refused')
    },
  )

  check(target, 'an id published twice runs once, with two workers taking the copies', async (h) => {
    const [a, b] = [h.app(), h.app()]
    let runs = 0
    const define = (app: App) =>
      app.task('charge', async (_ctx, cents: number) => {
        runs++
        await sleep(200)
        return cents
      })
    const [ta, tb] = [define(a), define(b)]
    // Both sends land before any worker runs: on an engine without idempotent publish both
    // copies are stored, and each worker takes one at the same time.
    const first = await ta.applyAsync([500], { id: 'charge-42' })
    await tb.applyAsync([500], { id: 'charge-42' })
    await h.worker(a, { concurrency: 1, prefetch: 0 })
    await h.worker(b, { concurrency: 1, prefetch: 0 })
    assert.equal(await first.get({ timeout: 10_000 }), 500)
    const broker = await a.broker()
    await until('both copies settled', async () => {
      const [s] = await broker.stats(['default'])
      return s!.waiting + s!.delayed === 0
    })
    await sleep(400)
    assert.equal(runs, 1, 'one run for the id')
    assert.deepEqual(await broker.listDead(), [])
  })

  check(target, 'warm shutdown lets running tasks finish and hands back buffered jobs', async (h) => {
    const app = h.app()
    const slow = app.task('slow', async (_ctx, ms: number) => {
      await sleep(ms)
      return ms
    })
    const sent = await slow.sendMany([[300], [300], [300], [300], [300]])
    const w = await h.worker(app, { concurrency: 2, prefetch: 3 })
    await until('two running and three buffered', () => w.stats.running === 2 && w.stats.buffered === 3)
    await w.stop()
    const states = await Promise.all(sent.map((r) => r.state()))
    assert.equal(states.filter((s) => s === 'SUCCESS').length, 2, 'the two running tasks finished')
    assert.equal(states.filter((s) => s === 'PENDING').length, 3)
    const [s] = await (await app.broker()).stats(['default'])
    assert.equal(s!.waiting, 3, 'the buffered ones are back in the queue')
    assert.equal(s!.active, 0)
  })

  check(
    target,
    'jobs handed back at a warm shutdown are not counted: a worker allowing one delivery still runs them',
    async (h) => {
      const app = h.app()
      const slow = app.task('slow', async (_ctx, ms: number) => {
        await sleep(ms)
        return ms
      })
      const sent = await slow.sendMany([[200], [200], [200], [200]])
      const options = { concurrency: 1, prefetch: 3, maxDeliveries: 1 }
      const w = await h.worker(app, options)
      await until('one running and three buffered', () => w.stats.running === 1 && w.stats.buffered === 3)
      await w.stop()
      await h.worker(app, options)
      const values = await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })))
      assert.deepEqual(values, [200, 200, 200, 200], 'none taken for a poison message')
      assert.deepEqual(await (await app.broker()).listDead(), [])
    },
  )

  check(
    target,
    'at the end of the shutdown grace an unfinished run is handed back with no result written',
    async (h) => {
      const app = h.app()
      const t = app.task('long', async (ctx) => {
        await new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        )
      })
      const w = await h.worker(app, { concurrency: 1, shutdownGrace: 100 })
      const r = await t.delay()
      await until('the task to start', () => w.stats.running === 1)
      await w.stop()
      await sleep(100)
      assert.equal(await r.record(), null, 'no FAILURE for a job that runs again')
      const [s] = await (await app.broker()).stats(['default'])
      assert.equal(s!.waiting, 1, 'the job is back in its queue')
      assert.equal(s!.active, 0)
      assert.equal(s!.dead, 0)
    },
  )

  check(
    target,
    'backpressure: while acks fail, a worker stops receiving: at most five times concurrency + prefetch held',
    async (h) => {
      const { app, broker } = await h.faultyApp()
      const t = app.task('quick', (_ctx, i: number) => i)
      broker.faults.set('ack', 'fail')
      const w = await h.worker(app, { concurrency: 2, prefetch: 2 })
      const sent = await t.sendMany(Array.from({ length: 60 }, (_, i) => [i] as [number]))
      let most = 0
      for (let end = Date.now() + 600; Date.now() < end; await sleep(10))
        most = Math.max(most, w.stats.received)
      // Credit: concurrency + prefetch (4), and four times as many finished ones waiting to be written.
      assert.ok(most <= 20, `received ${most} while acks failed`)
      assert.ok(broker.calls.get('ack')! >= 1, 'acks were tried')
      broker.faults.delete('ack')
      const values = await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })))
      assert.deepEqual(
        values,
        Array.from({ length: 60 }, (_, i) => i),
      )
      await until('every job acknowledged', async () => {
        const [s] = await broker.stats(['default'])
        return s!.waiting + s!.active === 0
      })
    },
  )

  check(target, 'housekeeping: one worker prunes dead letters past their retention', async (h) => {
    const apps = [await h.faultyApp(), await h.faultyApp()]
    const sent = []
    for (const { app } of apps) {
      const t = app.task('fails', () => {
        throw new Error('no')
      })
      await h.worker(app, { concurrency: 1, deadLetterRetention: 500, housekeepingInterval: 100 })
      sent.push(await t.delay(), await t.delay())
    }
    for (const r of sent) await assert.rejects(r.get({ timeout: 5000 }), /no/)
    const broker = apps[0]!.broker
    // Results are written before the jobs are dead-lettered: wait for the dead-letter writes.
    await until('all four dead-lettered', async () => (await broker.listDead()).length === 4, 2000)
    await until('dead letters pruned', async () => (await broker.listDead()).length === 0, 3000)
    const pruners = apps.filter(({ broker: b }) => (b.calls.get('pruneDead') ?? 0) > 0)
    assert.equal(pruners.length, 1, 'one worker did the housekeeping')
  })
}
