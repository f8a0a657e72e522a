import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { createApp } from '../index.js'
import { Worker } from './worker.js'

const silent = pino({ level: 'silent' })

function setup(opts: { concurrency?: number; lease?: number } = {}) {
  const url = `memory://${randomUUID()}`
  const app = createApp({ broker: url })
  const worker = () =>
    new Worker(app, {
      concurrency: opts.concurrency ?? 4,
      logger: silent,
      lease: opts.lease ?? 30_000,
      shutdownGrace: 2000,
    })
  return { app, worker }
}

describe('worker (in process, memory broker)', () => {
  const stops: (() => Promise<void>)[] = []
  after(async () => {
    for (const s of stops) await s()
  })

  it('runs a task and stores its typed result', async () => {
    const { app, worker } = setup()
    const add = app.task('add', (_ctx, a: number, b: number) => a + b)
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const r = await add.delay(2, 3)
    assert.equal(await r.get({ timeout: 5000 }), 5)
    assert.equal(await r.state(), 'SUCCESS')
  })

  it('round-trips rich values through the codec', async () => {
    const { app, worker } = setup()
    const echo = app.task(
      'echo',
      (_ctx, v: { d: Date; n: bigint; m: Map<string, number>; s: Set<string>; b: Buffer }) => v,
    )
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const v = {
      d: new Date('2020-01-02T03:04:05Z'),
      n: 12345678901234567890n,
      m: new Map([['a', 1]]),
      s: new Set(['x']),
      b: Buffer.from('hi'),
    }
    const out = await (await echo.delay(v)).get({ timeout: 5000 })
    assert.deepEqual(out, v)
  })

  it('rejects get() with the task error: name, message, stack and cause', async () => {
    const { app, worker } = setup()
    class PaymentError extends Error {
      override name = 'PaymentError'
    }
    const boom = app.task('boom', () => {
      throw new PaymentError('card declined', { cause: new Error('insufficient funds') })
    })
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const r = await boom.delay()
    await assert.rejects(r.get({ timeout: 5000 }), (err: Error) => {
      assert.equal(err.name, 'PaymentError')
      assert.equal(err.message, 'card declined')
      assert.match(String(err.stack), /card declined/)
      assert.equal((err.cause as Error).message, 'insufficient funds')
      return true
    })
    assert.equal(await r.state(), 'FAILURE')
  })

  it('retries with backoff until the task succeeds; ctx.retry() works from inside', async () => {
    const { app, worker } = setup()
    let calls = 0
    const flaky = app.task(
      'flaky',
      (ctx) => {
        calls++
        if (ctx.retries < 2) throw new Error(`try ${ctx.retries}`)
        return ctx.retries
      },
      { retries: { max: 3, delay: 20, jitter: false } },
    )
    let asked = 0
    const polite = app.task('polite', (ctx) => {
      asked++
      if (ctx.retries === 0) ctx.retry({ countdown: 10 })
      return 'ok'
    })
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    assert.equal(await (await flaky.delay()).get({ timeout: 5000 }), 2)
    assert.equal(calls, 3)
    assert.equal(await (await polite.delay()).get({ timeout: 5000 }), 'ok')
    assert.equal(asked, 2)
  })

  it('gives up after max retries with the last error and dead-letters the job', async () => {
    const { app, worker } = setup()
    const never = app.task(
      'never',
      () => {
        throw new TypeError('still broken')
      },
      { retries: { max: 2, delay: 5 } },
    )
    const onlyTypeErrors = app.task(
      'only-type',
      () => {
        throw new RangeError('not retried')
      },
      { retries: { max: 5, delay: 5, on: [TypeError] } },
    )
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const r = await never.delay()
    await assert.rejects(r.get({ timeout: 5000 }), { name: 'TypeError', message: 'still broken' })
    assert.equal((await r.record())!.retries, 2)
    const r2 = await onlyTypeErrors.delay()
    await assert.rejects(r2.get({ timeout: 5000 }), { name: 'RangeError' })
    assert.equal((await r2.record())!.retries, 0)
    const dead = await (await app.broker()).listDead()
    assert.ok(
      dead.some((d) => d.id === r.id && /failed after 2 retries: TypeError: still broken/.test(d.reason)),
    )
  })

  it('soft time limit aborts ctx.signal; hard limit fails the task and frees the slot', async () => {
    const { app, worker } = setup({ concurrency: 1 })
    const soft = app.task(
      'soft',
      (ctx) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => resolve(String((ctx.signal.reason as Error).name))),
        ),
      { softTimeLimit: 50 },
    )
    const hang = app.task('hang', () => new Promise(() => {}), { timeLimit: 100 })
    const quick = app.task('quick', () => 'next')
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    assert.equal(await (await soft.delay()).get({ timeout: 5000 }), 'SoftTimeLimitExceededError')
    const r = await hang.delay()
    await assert.rejects(r.get({ timeout: 5000 }), { name: 'TimeLimitExceededError' })
    assert.equal(await (await quick.delay()).get({ timeout: 5000 }), 'next', 'the single slot was freed')
  })

  it('marks expired tasks REVOKED without running them; honours countdown', async () => {
    const { app, worker } = setup()
    let ran = false
    const t = app.task('t', () => {
      ran = true
      return Date.now()
    })
    const expired = await t.applyAsync([], { expires: new Date(Date.now() - 1000) })
    const sentAt = Date.now()
    const later = await t.applyAsync([], { countdown: 300 })
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    await assert.rejects(expired.get({ timeout: 5000 }), /expired/)
    assert.equal(await expired.state(), 'REVOKED')
    const startedAt = await later.get({ timeout: 5000 })
    assert.ok(startedAt - sentAt >= 290, 'not before its countdown')
    assert.ok(ran)
  })

  it('dead-letters unknown tasks and malformed messages and keeps working; replay runs them', async () => {
    const { app, worker } = setup()
    const ok = app.task('ok', () => 'fine')
    const broker = await app.broker()
    await broker.publish([{ id: 'bad-json', queue: 'default', priority: 0, body: '{not json' }])
    const ghost = await app.sendTask('ghost.task', [1])
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    assert.equal(await (await ok.delay()).get({ timeout: 5000 }), 'fine')
    await assert.rejects(ghost.get({ timeout: 5000 }), /unknown task "ghost.task"/)
    const dead = await broker.listDead()
    assert.match(dead.find((d) => d.id === 'bad-json')!.reason, /malformed message/)
    assert.match(
      dead.find((d) => d.id === ghost.id)!.reason,
      /unknown task "ghost.task"; registered tasks: ok/,
    )
    app.task('ghost.task', (_ctx, n: number) => n * 10)
    assert.equal(await app.replayDead([ghost.id]), 1)
    assert.equal(await ghost.get({ timeout: 5000 }), 10)
  })

  it('validates arguments with a schema-like validator before running', async () => {
    const { app, worker } = setup()
    const strict = app.task('strict', (_ctx, n: number) => n, {
      validate: (args) => {
        if (typeof args[0] !== 'number') throw new Error(`expected a number, got ${typeof args[0]}`)
        return args as [number]
      },
    })
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const bad = await app.sendTask('strict', ['seven'])
    await assert.rejects(bad.get({ timeout: 5000 }), {
      name: 'InvalidArgumentsError',
      message: /expected a number, got string/,
    })
    assert.equal(await (await strict.delay(7)).get({ timeout: 5000 }), 7)
  })

  it('extends the lease while a task runs longer than it: no other worker gets the job', async () => {
    const { app } = setup()
    let runs = 0
    const long = app.task('long', async () => {
      runs++
      await new Promise((r) => setTimeout(r, 1000))
      return 'once'
    })
    const make = () => new Worker(app, { concurrency: 2, logger: silent, lease: 300, shutdownGrace: 2000 })
    const [a, b] = [make(), make()]
    await a.start()
    stops.push(() => a.stop())
    const r = await long.delay()
    await new Promise((res) => setTimeout(res, 50))
    await b.start()
    stops.push(() => b.stop())
    assert.equal(await r.get({ timeout: 5000 }), 'once')
    assert.equal(runs, 1, 'three lease lengths passed, and the heartbeat kept the job')
    assert.equal(a.stats.stale + b.stats.stale, 0)
  })

  it('records STARTED while a task runs when trackStarted is on', async () => {
    const { app, worker } = setup()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const tracked = app.task(
      'tracked',
      async () => {
        await gate
        return 'done'
      },
      { trackStarted: true },
    )
    const w = worker()
    await w.start()
    stops.push(() => w.stop())
    const r = await tracked.delay()
    const deadline = Date.now() + 5000
    while ((await r.state()) !== 'STARTED' && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 10))
    assert.equal(await r.state(), 'STARTED')
    assert.ok((await r.record())!.startedAt! > 0)
    release()
    assert.equal(await r.get({ timeout: 5000 }), 'done')
  })

  it('warm shutdown lets running tasks finish and hands back buffered ones', async () => {
    const { app, worker } = setup({ concurrency: 2 })
    const slow = app.task('slow', async (_ctx, ms: number) => {
      await new Promise((r) => setTimeout(r, ms))
      return ms
    })
    const rs = await slow.sendMany([[200], [200], [200], [200], [200]])
    const w = worker()
    await w.start()
    await new Promise((r) => setTimeout(r, 50))
    await w.stop()
    const states = await Promise.all(rs.map((r) => r.state()))
    assert.equal(states.filter((s) => s === 'SUCCESS').length, 2, 'the two running tasks finished')
    const [s] = await (await app.broker()).stats(['default'])
    assert.equal(s!.waiting, 3, 'the buffered ones are back in the queue')
    assert.equal(s!.active, 0)
  })
})
