/**
 * Worker events as data: a worker started with `events` writes task and worker events to the
 * coordination part's event log, where another client reads them. On Redis the outcome events of
 * tasks with results ride on the result writes (ResultStore.writesEventsTo); readers see the same
 * events either way.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { createApp } from '../../src/index.js'
import { EVENTS_STREAM, parseEvents, type CeleriacEvent } from '../../src/core/events.js'
import { Worker } from '../../src/worker/index.js'
import { memoryUrls, redisUrls, sqliteUrls } from '../support/engine-urls.js'

const silent = pino({ level: 'silent' })

async function readAll(app: ReturnType<typeof createApp>): Promise<CeleriacEvent[]> {
  const c = (await app.coordination())!
  return (await c.read(EVENTS_STREAM, null, 10_000)).flatMap((e) => parseEvents(e.data))
}

for (const engine of [memoryUrls(), sqliteUrls(), redisUrls()])
  describe(`worker events (${engine.name})`, () => {
    after(() => engine.cleanup())

    it('reports received, started and the outcome of each task, and the worker coming and going', async () => {
      const url = engine.url()
      const app = createApp({ broker: url })
      const ok = app.task('ok', () => 1)
      let tries = 0
      const flaky = app.task(
        'flaky',
        () => {
          if (++tries < 2) throw new Error('first try fails')
          return 2
        },
        { retries: { max: 2, delay: 0, jitter: false } },
      )
      const bad = app.task('bad', () => {
        throw new Error('always')
      })
      const w = new Worker(app, { concurrency: 2, logger: silent, events: true })
      await w.start()
      const [a, b, c] = [await ok.delay(), await flaky.delay(), await bad.delay()]
      await a.get({ timeout: 5000 })
      await b.get({ timeout: 5000 })
      await assert.rejects(c.get({ timeout: 5000 }))
      await w.stop()

      // Read by another app on the same engine, as another process would.
      const reader = createApp({ broker: url })
      const events = await readAll(reader)
      const of = (id: string) => events.filter((e) => e.id === id).map((e) => e.type)
      assert.deepEqual(of(a.id), ['task-received', 'task-started', 'task-succeeded'])
      // The retry's event and the next delivery's may interleave: each delivery's own events, by
      // fence, come in order.
      const byFence = new Map<number, string[]>()
      for (const e of events.filter((e) => e.id === b.id))
        byFence.set(e.fence!, [...(byFence.get(e.fence!) ?? []), e.type])
      assert.deepEqual(
        [...byFence.entries()].sort(([x], [y]) => x - y).map(([, types]) => types),
        [
          ['task-received', 'task-started', 'task-retried'],
          ['task-received', 'task-started', 'task-succeeded'],
        ],
      )
      assert.deepEqual(of(c.id), ['task-received', 'task-started', 'task-failed'])
      const failed = events.find((e) => e.id === c.id && e.type === 'task-failed')!
      assert.equal(failed.task, 'bad')
      assert.match(failed.reason!, /always/)
      assert.ok(typeof failed.runtimeMs === 'number')
      assert.equal(events[0]!.type, 'worker-online')
      assert.equal(events.at(-1)!.type, 'worker-offline')
      assert.ok(events.every((e) => e.worker === w.name))
      await app.close()
      await reader.close()
    })

    it('announces a long task while it runs, then its outcome after the announcements', async () => {
      const url = engine.url()
      const app = createApp({ broker: url })
      const slow = app.task('slow', async (_ctx, n: number) => {
        await new Promise((r) => setTimeout(r, 300))
        return n
      })
      const quiet = app.task('quiet', () => 1, { ignoreResult: true })
      const w = new Worker(app, { concurrency: 2, logger: silent, events: true })
      await w.start()
      const s = await slow.delay(7)
      const q = await quiet.delay()
      assert.equal(await s.get({ timeout: 5000 }), 7)
      await w.stop()
      const events = await readAll(app)
      const of = (id: string) => events.filter((e) => e.id === id)
      assert.deepEqual(
        of(s.id).map((e) => e.type),
        ['task-received', 'task-started', 'task-succeeded'],
      )
      const [, started, done] = of(s.id)
      assert.equal(started!.args, '[[7],{}]')
      assert.ok(done!.runtimeMs! >= 250, `runtime ${done!.runtimeMs}`)
      // A task that keeps no result has its events all the same.
      assert.deepEqual(
        of(q.id).map((e) => e.type),
        ['task-received', 'task-started', 'task-succeeded'],
      )
      assert.equal(events[0]!.type, 'worker-online')
      await app.close()
    })

    it('without events, nothing is written', async () => {
      const url = engine.url()
      const app = createApp({ broker: url })
      const ok = app.task('ok', () => 1)
      const w = new Worker(app, { concurrency: 1, logger: silent })
      await w.start()
      await (await ok.delay()).get({ timeout: 5000 })
      await w.stop()
      assert.deepEqual(await readAll(app), [])
      await app.close()
    })
  })
