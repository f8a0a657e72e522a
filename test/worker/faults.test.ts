/**
 * The worker under faults: errors and values the codec cannot write, a broker whose settle calls
 * fail while reserve works, leases lost while a task runs, shutdown at the end of the grace, and
 * an app whose replay fails half-way. In process, on the memory broker wrapped by FaultyBroker.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { MemoryBroker, MemoryResultStore } from '../../src/brokers/memory/index.js'
import { createApp, type App } from '../../src/index.js'
import { Worker, type WorkerOptions } from '../../src/worker/index.js'
import { FaultyBroker } from '../support/faulty-broker.js'

const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

function setup() {
  const inner = new MemoryBroker()
  const broker = new FaultyBroker(inner)
  const store = new MemoryResultStore()
  const app = createApp({ broker, resultBackend: store })
  return { inner, broker, store, app }
}

describe('worker under faults', () => {
  const workers: Worker[] = []
  const start = async (app: App, options: WorkerOptions = {}) => {
    const w = new Worker(app, { concurrency: 2, logger: silent, shutdownGrace: 500, ...options })
    workers.push(w)
    await w.start()
    return w
  }
  after(async () => {
    await Promise.all(workers.map((w) => w.stop({ grace: 0 })))
  })

  it('stores an error it cannot encode (circular cause, request objects) as a readable FAILURE and keeps running', async () => {
    const { app } = setup()
    const circular = app.task('circular', () => {
      const err = new Error('boom') as Error & { cause?: unknown }
      err.cause = err
      throw err
    })
    const axiosLike = app.task('axios-like', () => {
      throw Object.assign(new Error('Request failed with status code 500'), {
        request: { socket: { destroy: () => {} }, onDone: () => {} },
      })
    })
    const ok = app.task('ok', () => 'fine')
    await start(app)
    const a = await circular.delay()
    const b = await axiosLike.delay()
    await assert.rejects(a.get({ timeout: 5000 }), /boom/)
    await assert.rejects(b.get({ timeout: 5000 }), /status code 500/)
    assert.equal(await (await ok.delay()).get({ timeout: 5000 }), 'fine')
  })

  it('fails a task whose return value cannot be stored, with the reason, and keeps running', async () => {
    const { app } = setup()
    const fn = app.task('returns-fn', () => () => 1)
    const ok = app.task('ok', () => 1)
    await start(app)
    const r = await fn.delay()
    await assert.rejects(r.get({ timeout: 5000 }), /returned a value that cannot be stored: a function/)
    assert.equal(await r.state(), 'FAILURE')
    assert.equal(await (await ok.delay()).get({ timeout: 5000 }), 1)
  })

  it('a retry policy callback that throws means no retry, never a crashed worker', async () => {
    const { app } = setup()
    const t = app.task(
      'bad-policy',
      () => {
        throw new Error('task error')
      },
      {
        retries: {
          max: 3,
          on: () => {
            throw new Error('policy bug')
          },
        },
      },
    )
    await start(app)
    await assert.rejects((await t.delay()).get({ timeout: 5000 }), /task error/)
  })

  it('stops receiving while outcomes cannot be settled, and catches up when they can', async () => {
    const { app, broker } = setup()
    const t = app.task('quick', (_ctx, i: number) => i)
    broker.faults.set('ack', 'fail')
    const w = await start(app, { concurrency: 2, prefetch: 2 })
    const sent = await t.sendMany(Array.from({ length: 50 }, (_, i) => [i] as [number]))
    await sleep(600)
    // Credit is concurrency + prefetch (4); it comes back at a task's end while at most four times
    // as many outcomes wait to be written, and only when written past that: at most 20 held.
    assert.ok(w.stats.received <= 20, `received ${w.stats.received} while acks failed`)
    broker.faults.delete('ack')
    const values = await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })))
    assert.deepEqual(
      values,
      Array.from({ length: 50 }, (_, i) => i),
    )
  })

  it('a run whose lease was lost cannot overwrite the result of the run that took over', async () => {
    const inner = new MemoryBroker()
    const store = new MemoryResultStore()
    const slow = new FaultyBroker(inner)
    slow.faults.set('extend', 'drop') // its heartbeats do not reach the broker: the lease lapses
    const define = (app: App) =>
      app.task('flaky', async (ctx) => {
        if (ctx.deliveries === 1) {
          await sleep(800)
          throw new Error('the first run failed late')
        }
        return 'second run'
      })
    const appA = createApp({ broker: slow, resultBackend: store })
    const appB = createApp({ broker: inner, resultBackend: store })
    const task = define(appA)
    define(appB)
    const a = await start(appA, { lease: 200, concurrency: 1, prefetch: 0 })
    const r = await task.delay()
    await until('the first run to start', () => a.stats.received === 1)
    await start(appB, { concurrency: 1 })
    assert.equal(await r.get({ timeout: 5000 }), 'second run')
    await until('the first run to settle', () => a.stats.running === 0 && a.stats.stale >= 1)
    const rec = await store.get([r.id])
    assert.equal(rec[0]?.state, 'SUCCESS', 'the stale FAILURE was dropped')
  })

  it('at the end of the shutdown grace, an unfinished run is handed back and its outcome not recorded', async () => {
    const { app, inner, store } = setup()
    const t = app.task('long', async (ctx) => {
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
    })
    const w = await start(app, { concurrency: 1, shutdownGrace: 100 })
    const r = await t.delay()
    await until('the task to start', () => w.stats.running === 1)
    await w.stop()
    await sleep(100)
    assert.deepEqual(await store.get([r.id]), [null], 'no FAILURE for a job that runs again')
    const [s] = await inner.stats(['default'])
    assert.equal(s?.waiting, 1, 'the job is back in its queue')
    assert.equal(s?.dead, 0)
  })

  it('a task gets every retry it declares, however many exceed maxDeliveries', async () => {
    const { app } = setup()
    let attempts = 0
    const t = app.task(
      'always-fails',
      () => {
        attempts++
        throw new Error(`attempt ${attempts}`)
      },
      { retries: { max: 12, delay: 0, jitter: false } },
    )
    await start(app, { maxDeliveries: 10 })
    await assert.rejects((await t.delay()).get({ timeout: 10_000 }), /attempt 13/)
    assert.equal(attempts, 13)
  })

  it('replayDead keeps the FAILURE readable when moving the jobs back fails', async () => {
    const { app, broker } = setup()
    const t = app.task('fails', () => {
      throw new Error('nope')
    })
    await start(app)
    const r = await t.delay()
    await assert.rejects(r.get({ timeout: 5000 }), /nope/)
    broker.faults.set('replayDead', 'fail')
    await assert.rejects(app.replayDead([r.id]), /injected fault/)
    assert.equal(await r.state(), 'FAILURE')
  })

  it('dead-letters a message whose body names another id, and one over the size limit', async () => {
    const { app, inner } = setup()
    const t = app.task('echo', (_ctx, s: string) => s)
    await start(app)
    const good = app.buildMessage('echo', ['x']).message
    const { encodeMessage } = await import('../../src/core/message.js')
    await inner.publish([
      { id: 'framing-id', queue: 'default', priority: 0, body: encodeMessage(good) },
      { id: 'huge', queue: 'default', priority: 0, body: 'x'.repeat(app.maxMessageBytes + 1) },
    ])
    const ok = await t.delay('still running')
    assert.equal(await ok.get({ timeout: 5000 }), 'still running')
    await until('both dead-lettered', async () => (await inner.listDead()).length === 2)
    const dead = await inner.listDead()
    const reasons = Object.fromEntries(dead.map((d) => [d.id, d.reason]))
    assert.match(reasons['framing-id']!, /holds it as "framing-id" but its body says/)
    assert.match(reasons['huge']!, /larger than this worker's limit/)
    assert.equal(await app.asyncResult('framing-id').state(), 'FAILURE')
    assert.equal(await app.asyncResult(good.id).state(), 'PENDING', 'the body id is untouched')
  })
})

describe('worker process exit', () => {
  it('exits after stop and close while settling is failing: no timer keeps the process alive', async () => {
    const { spawn } = await import('node:child_process')
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/settle-outage-exit.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const started = Date.now()
    const code = await new Promise<number | null>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000)
      child.on('exit', (c) => (clearTimeout(kill), resolve(c)))
    })
    assert.match(out, /stopped/)
    assert.equal(code, 0, `exited by itself (took ${Date.now() - started} ms)`)
  })
})

describe('result size limit', () => {
  it('a result over maxResultBytes is a FAILURE that says so', async () => {
    const app = createApp({
      broker: new MemoryBroker(),
      resultBackend: new MemoryResultStore(),
      maxResultBytes: 1000,
    })
    const big = app.task('big', (_ctx, n: number) => 'x'.repeat(n))
    const w = new Worker(app, { concurrency: 1, logger: silent })
    await w.start()
    assert.equal((await (await big.delay(10)).get({ timeout: 5000 })).length, 10)
    await assert.rejects(
      (await big.delay(3 * 1024 * 1024)).get({ timeout: 5000 }),
      /over the result limit of 1000/,
    )
    await w.stop()
  })
})
