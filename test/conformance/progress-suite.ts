/**
 * The progress conformance suite: `ctx.progress()` in the real in-process Worker, read and
 * followed by another app on the same URL (separate connections, as another process would have),
 * on every engine that stores results.
 *   progressConformance({ name: 'sqlite', url: () => 'sqlite:///tmp/…' })
 */
import assert from 'node:assert/strict'
import { describe } from 'node:test'
import { isPullBroker, type Delivery } from '../../src/contracts/broker.js'
import { EVENTS_STREAM, parseEvent } from '../../src/core/events.js'
import type { TaskUpdate } from '../../src/core/follow.js'
import { decodeMessage } from '../../src/core/message.js'
import { InvalidProgressError, MAX_PROGRESS_BYTES } from '../../src/core/progress.js'
import type { App } from '../../src/index.js'
import type { PreparedJob } from '../../src/worker/prepare.js'
import { workerProgress } from '../../src/worker/progress.js'
import { pino } from 'pino'
import { check, sleep, until, type WorkerTarget } from './worker/harness.js'

/** A gate per step: the task waits at step i until the test opens it. */
function gates(n: number): { open(i: number): void; wait(i: number): Promise<void> } {
  const resolvers: (() => void)[] = []
  const promises = Array.from({ length: n }, (_, i) => new Promise<void>((r) => (resolvers[i] = r)))
  return { open: (i) => resolvers[i]?.(), wait: (i) => promises[i] ?? Promise.resolve() }
}

/** A task that reports `{ step, of }` for each step, waiting at each for the test. */
function steppedTask(app: App, name: string, n: number, gate: ReturnType<typeof gates>) {
  return app.task(name, async (ctx) => {
    for (let i = 1; i <= n; i++) {
      ctx.progress({ step: i, of: n })
      await gate.wait(i)
    }
    return 'done'
  })
}

export function progressConformance(target: WorkerTarget): void {
  describe(`progress conformance: ${target.name}`, () => {
    check(target, 'progress reaches result.progress() and follow() in another app, in order', async (h) => {
      const app = h.app()
      const gate = gates(4)
      const task = steppedTask(app, 'stepped', 3, gate)
      const reader = h.app()
      reader.task('stepped', () => 'unused')
      await h.worker(app)
      const sent = await task.delay()
      const r = reader.asyncResult(sent.id)
      assert.equal(await reader.asyncResult('never-sent').progress(), null)
      const seen: TaskUpdate[] = []
      for await (const u of r.follow<{ step: number }>()) {
        seen.push(u)
        // Each step waits until the follower has seen it: every value is seen live.
        if (u.progress) {
          assert.deepEqual(await r.progress(), u.progress)
          gate.open(u.progress.step)
        }
      }
      const steps = seen.filter((u) => u.progress).map((u) => u.progress)
      assert.deepEqual(steps, [
        { step: 1, of: 3 },
        { step: 2, of: 3 },
        { step: 3, of: 3 },
      ])
      const last = seen.at(-1)!
      assert.equal(last.state, 'SUCCESS')
      assert.equal(last.ready, true)
      assert.equal(last.progress, null)
      assert.ok(seen.slice(0, -1).every((u) => !u.ready))
      assert.equal(await r.progress(), null)
      assert.equal(await r.get({ timeout: 5000 }), 'done')
    })

    check(target, 'onProgress calls back for each change and resolves with the final update', async (h) => {
      const app = h.app()
      const gate = gates(3)
      const task = steppedTask(app, 'stepped', 2, gate)
      await h.worker(app)
      const sent = await task.delay()
      const got: unknown[] = []
      const last = await h
        .app()
        .asyncResult(sent.id)
        .onProgress<{ step: number }>((p) => {
          if (p) {
            got.push(p.step)
            gate.open(p.step)
          }
        })
      assert.deepEqual(got, [1, 2])
      assert.equal(last?.state, 'SUCCESS')
    })

    check(target, 'a burst of calls is coalesced and the last value is always written', async (h) => {
      const app = h.app()
      const gate = gates(2)
      const task = app.task('burst', async (ctx) => {
        for (let i = 1; i <= 1000; i++) ctx.progress(i)
        await gate.wait(1)
        for (let i = 1001; i <= 1500; i++) {
          ctx.progress(i)
          if (i % 100 === 0) await sleep(5)
        }
        await gate.wait(0)
        return 'done'
      })
      await h.worker(app, { events: true })
      const sent = await task.delay()
      const reader = h.app().asyncResult<string>(sent.id)
      await until('the burst to be written', async () => (await reader.progress()) === 1000)
      gate.open(1)
      await until('the last value to be written', async () => (await reader.progress()) === 1500)
      gate.open(0)
      assert.equal(await reader.get({ timeout: 5000 }), 'done')
      const coordination = (await app.coordination())!
      await until('the events to be written', async () =>
        (await coordination.read(EVENTS_STREAM, null, 10_000)).some(
          (e) => parseEvent(e.data)?.type === 'task-succeeded',
        ),
      )
      const progressEvents = (await coordination.read(EVENTS_STREAM, null, 10_000))
        .map((e) => parseEvent(e.data))
        .filter((e) => e?.type === 'task-progress' && e.id === sent.id)
      // 1,500 calls: a handful of writes (one per 100 ms at most), the last among them.
      assert.ok(progressEvents.length >= 2 && progressEvents.length < 100, `${progressEvents.length} writes`)
      assert.equal(progressEvents.at(-1)!.progress, 1500)
      assert.equal(progressEvents[0]!.task, 'burst')
    })

    check(target, 'bad progress values throw InvalidProgressError in the task', async (h) => {
      const app = h.app()
      const task = app.task('bad.progress', (ctx) => {
        const names: string[] = []
        for (const v of ['half', Number.NaN, null, () => 1, { big: 'x'.repeat(MAX_PROGRESS_BYTES) }]) {
          try {
            ctx.progress(v as never)
            names.push('accepted')
          } catch (err) {
            assert.ok(err instanceof InvalidProgressError)
            assert.match(err.message, /invalid progress: .+; pass a number/)
            names.push(err.code)
          }
        }
        ctx.progress({ when: new Date(0), tags: new Set(['a']) })
        return names
      })
      await h.worker(app)
      const r = await task.delay()
      assert.deepEqual(await r.get({ timeout: 5000 }), Array(5).fill('INVALID_PROGRESS'))
    })

    check(target, 'a progress write from a stale delivery is refused', async (h) => {
      const app = h.app()
      app.task('leased', () => null)
      const broker = await app.broker()
      if (!isPullBroker(broker)) return
      const sent = await app.sendTask('leased')
      const [first] = await broker.reserve([app.defaultQueue], 1, { leaseMs: 150 })
      assert.ok(first)
      // The first delivery's lease lapses and the job is delivered again, with a higher fence.
      let second: Delivery | undefined
      await until('the job to be delivered again', async () => {
        ;[second] = await broker.reserve([app.defaultQueue], 1, { leaseMs: 30_000 })
        return second !== undefined
      })
      assert.ok(second!.fence > first.fence)
      const job = (d: Delivery): PreparedJob => {
        const msg = decodeMessage(d.body)
        return { delivery: d, msg, task: app.getTask('leased')!, args: [], storeResult: true }
      }
      const reporter = workerProgress({
        app,
        worker: 'w',
        log: pino({ level: 'silent' }),
        results: await app.resultStore(),
        coordination: await app.coordination(),
      })
      const r = h.app().asyncResult(sent.id)
      reporter.report(job(second!), '0.8', Date.now())
      await until('the live delivery to write', async () => (await r.progress()) === 0.8)
      await reporter.end(job(second!))
      reporter.report(job(first), '0.3', Date.now())
      await reporter.end(job(first))
      await sleep(50)
      await reporter.close()
      assert.equal(await r.progress(), 0.8)
      assert.equal((await r.record())?.fence, second!.fence)
    })

    check(target, 'a progress write landing after the result does not hide it', async (h) => {
      const app = h.app()
      const task = app.task('late', (ctx) => {
        // Reported after the body returns (a timer left behind): dropped.
        setTimeout(() => ctx.progress(0.5), 30)
        ctx.progress(0.9)
        return 'done'
      })
      await h.worker(app)
      const r = await task.delay()
      assert.equal(await r.get({ timeout: 5000 }), 'done')
      await sleep(200)
      assert.equal(await r.state(), 'SUCCESS')
      assert.equal(await r.progress(), null)
      assert.equal(await r.get(), 'done')
    })
  })
}
