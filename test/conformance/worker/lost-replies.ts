/**
 * "Applied, but the reply was lost": a call that reached the engine and changed it, whose answer
 * never came back (a connection cut at the wrong moment). The caller must be able to try again
 * with no job lost, run twice or stored twice.
 */
import assert from 'node:assert/strict'
import { sleep, until, check, type WorkerTarget } from './harness.js'

export function lostReplyTests(target: WorkerTarget): void {
  check(
    target,
    'an acknowledgement applied whose reply was lost: retried, fenced off, the job not run again',
    async (h) => {
      const { app, broker } = await h.faultyApp()
      let runs = 0
      const t = app.task('once', () => ++runs)
      broker.faults.set('ack', 'fail-after')
      const w = await h.worker(app, { concurrency: 1 })
      const r = await t.delay()
      assert.equal(await r.get({ timeout: 10_000 }), 1)
      await until('the ack to have been tried', () => (broker.calls.get('ack') ?? 0) >= 1)
      broker.faults.delete('ack')
      // The Settler writes the batch again; the second ack finds the job gone: stale, nothing lost.
      await until('the outcome settled', () => w.stats.stale >= 1, 10_000)
      await sleep(200)
      assert.equal(runs, 1, 'the job ran once')
      assert.equal(await r.state(), 'SUCCESS')
      const stats = await broker.stats(['default'])
      assert.deepEqual(
        stats.map((s) => [s.waiting, s.delayed, s.active, s.dead]),
        [[0, 0, 0, 0]],
      )
    },
  )

  check(
    target,
    'a publish applied whose reply was lost: sending again with the same id runs the job once',
    async (h) => {
      // Stored once by an engine with idempotent publish; stored twice without it (RabbitMQ),
      // where the worker's run claim (src/dedup) lets one copy run.
      const { app, broker } = await h.faultyApp()
      let runs = 0
      const t = app.task('once', () => ++runs)
      broker.faults.set('publish', 'fail-after')
      await assert.rejects(t.applyAsync([], { id: 'order-42' }), /reply was lost/)
      broker.faults.delete('publish')
      const r = await t.applyAsync([], { id: 'order-42' })
      await h.worker(app, { concurrency: 1 })
      assert.equal(await r.get({ timeout: 10_000 }), 1)
      await sleep(300)
      assert.equal(runs, 1, 'run once')
      const [s] = await broker.stats(['default'])
      assert.equal(s!.waiting + s!.active, 0, 'no copy left behind')
    },
  )
}
