/**
 * The dashboard API on the memory engine, in-process: queue jobs by state a page at a time, the
 * tasks list paged and filtered over the event log read incrementally, the minute charts (and a
 * second API instance, as after a restart, showing the same from the log), retry now, and
 * run-time rate limits.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { createApp, type App } from '../core/app.js'
import { chain, group } from '../canvas/index.js'
import { Worker } from '../worker/worker.js'
import { EVENTS_STREAM, type CeleriacEvent } from '../core/events.js'
import { isPullBroker } from '../contracts/broker.js'
import { DashboardApi } from './api.js'
import { TaskIndex } from './task-index.js'

type Body = Record<string, unknown> & { status?: number }
const body = async (p: Promise<{ status: number; body: unknown }>): Promise<Body> => {
  const r = await p
  return { ...(r.body as Record<string, unknown>), status: r.status }
}

async function log(app: App, events: Omit<CeleriacEvent, 'worker'>[]): Promise<void> {
  const c = (await app.coordination())!
  await c.append(
    EVENTS_STREAM,
    events.map((e) => JSON.stringify({ worker: 'w1@host:1', ...e })),
    10_000,
  )
}

describe('dashboard API (memory engine)', () => {
  const apps: App[] = []
  const open = () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    apps.push(app)
    return app
  }
  after(async () => {
    for (const a of apps) await a.close()
  })

  it('lists a queue’s jobs by state a page at a time, totals from stats', async () => {
    const app = open()
    const api = new DashboardApi(app)
    for (let i = 0; i < 45; i++) await app.sendTask('demo.add', [i, 1], { queue: 'paged' })
    await app.sendTask('demo.later', ['x'], { queue: 'paged', countdown: '1h' })
    const page = (state: string, offset: number) =>
      body(api.queueJobs('paged', new URLSearchParams({ state, offset: String(offset), limit: '20' })))
    const first = await page('waiting', 0)
    const third = await page('waiting', 40)
    assert.equal(first.total, 45)
    assert.equal((first.jobs as unknown[]).length, 20)
    assert.equal((third.jobs as unknown[]).length, 5)
    assert.deepEqual((first.jobs as { task: string; args: unknown }[])[0], {
      ...(first.jobs as object[])[0],
      task: 'demo.add',
      args: [[0, 1], {}],
    })
    const delayed = await page('delayed', 0)
    assert.equal(delayed.total, 1)
    assert.equal((delayed.jobs as { task: string }[])[0]!.task, 'demo.later')
    assert.ok((delayed.jobs as { at: number }[])[0]!.at > Date.now() + 3_000_000)
    assert.equal((await page('dead', 0)).total, 0)
    const bad = await api.queueJobs('paged', new URLSearchParams({ state: 'nope' })).catch((e: Error) => e)
    assert.match(String(bad), /state must be/)
  })

  it('pages and filters tasks over the event log, reading only what is new', async () => {
    const app = open()
    const api = new DashboardApi(app)
    const t0 = Date.now() - 10 * 60_000
    const events: Omit<CeleriacEvent, 'worker'>[] = []
    for (let i = 0; i < 120; i++) {
      const id = `task-${String(i).padStart(3, '0')}`
      const queue = i % 2 ? 'odd' : 'even'
      events.push({ type: 'task-received', id, queue, at: t0 + i * 1000 })
      events.push({
        type: i % 10 === 0 ? 'task-failed' : 'task-succeeded',
        id,
        queue,
        task: i % 3 ? 'demo.add' : 'demo.mul',
        at: t0 + i * 1000 + 500,
        ...(i % 10 === 0 ? { reason: 'boom' } : {}),
      })
    }
    await log(app, events)
    const tasks = (q: Record<string, string>) => body(api.tasks(new URLSearchParams(q)))
    const all = await tasks({ limit: '50' })
    assert.equal(all.total, 120)
    assert.equal((all.tasks as { id: string }[])[0]!.id, 'task-119')
    const second = await tasks({ limit: '50', offset: '50' })
    assert.equal((second.tasks as { id: string }[])[0]!.id, 'task-069')
    assert.deepEqual(all.queues, ['even', 'odd'])
    const failed = await tasks({ state: 'FAILURE' })
    assert.equal(failed.total, 12)
    const mulOdd = await tasks({ task: 'demo.mul', queue: 'odd' })
    assert.equal(mulOdd.total, 20)
    const window = await tasks({ from: String(t0 + 10_000), to: String(t0 + 19_999) })
    assert.deepEqual(
      (window.tasks as { id: string }[]).map((t) => t.id),
      [
        'task-019',
        'task-018',
        'task-017',
        'task-016',
        'task-015',
        'task-014',
        'task-013',
        'task-012',
        'task-011',
        'task-010',
      ],
    )
    assert.equal((await tasks({ id: 'task-07' })).total, 10)

    // New events are folded in on the next request.
    await log(app, [{ type: 'task-revoked', id: 'task-000', queue: 'even', at: Date.now() }])
    const revoked = await tasks({ state: 'REVOKED' })
    assert.deepEqual(
      (revoked.tasks as { id: string }[]).map((t) => t.id),
      ['task-000'],
    )

    // The charts: per queue, per minute over the last hour; a fresh API (a restarted dashboard)
    // rebuilds the same from the log.
    const o = await body(api.overview())
    const series = o.series as { queue: string; done: number[]; failed: number[] }[]
    assert.deepEqual(
      series.map((s) => s.queue),
      ['even', 'odd'],
    )
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
    assert.equal(sum(series[0]!.done) + sum(series[1]!.done), 121)
    assert.equal(sum(series[0]!.failed), 12)
    assert.equal(series[0]!.done.length, 60)
    const again = await body(new DashboardApi(app).overview())
    assert.deepEqual(again.series, o.series)
  })

  it('keeps memory flat: rows are capped, buckets older than an hour go', async () => {
    const app = open()
    const c = (await app.coordination())!
    const old = Date.now() - 3 * 3600_000
    await log(app, [
      { type: 'task-succeeded', id: 'ancient', queue: 'q', at: old },
      ...Array.from({ length: 30 }, (_, i) => ({
        type: 'task-succeeded' as const,
        id: `n${i}`,
        queue: 'q',
        at: Date.now(),
      })),
    ])
    const index = new TaskIndex(c, 10)
    await index.refresh()
    assert.equal([...index.newestFirst()].length, 10)
    const [s] = index.series()
    assert.equal(
      s!.done.reduce((a, b) => a + b, 0),
      30,
    )
  })

  it('retries a dead-lettered failure now, with its body; refuses what has no dead entry', async () => {
    const app = open()
    const api = new DashboardApi(app)
    const sent = await app.sendTask('demo.fail', [{ n: 1 }], { queue: 'retry' })
    const broker = await app.broker()
    assert.ok(isPullBroker(broker))
    const [d] = await broker.reserve(['retry'], 1, { leaseMs: 30_000 })
    await broker.deadLetter([{ id: d!.id, token: d!.token, reason: 'boom' }])
    assert.equal((await broker.stats(['retry']))[0]!.dead, 1)
    const r = await body(api.retryNow(sent.id))
    assert.equal(r.status, 200)
    const [s] = await broker.stats(['retry'])
    assert.deepEqual([s!.waiting, s!.dead], [1, 0])
    const [again] = await broker.reserve(['retry'], 1, { leaseMs: 30_000 })
    assert.equal(again!.body, d!.body)
    const refused = await body(api.retryNow(sent.id))
    assert.equal(refused.status, 409)
    assert.match(String(refused.error), /no dead-letter entry/)
  })

  it('gives a task’s workflow tree with states, from any of its tasks; null outside one', async () => {
    const app = open()
    const add = app.task('add', (_ctx, a: number, b: number) => a + b)
    const mul = app.task('mul', (_ctx, a: number, b: number) => a * b)
    const sum = app.task('sum', (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0))
    const note = app.task('note', (_ctx, v: unknown) => v)
    const worker = new Worker(app, { concurrency: 2, logger: pino({ level: 'silent' }), shutdownGrace: 1000 })
    await worker.start()
    try {
      const r = await chain(add.s(1, 1), group([mul.s(2), mul.s(3)]), sum.s().link(note.s())).apply()
      assert.equal(await r.get({ timeout: 5000 }), 10)
      const api = new DashboardApi(app)
      type Node = {
        kind: string
        id: string
        task?: string
        state?: string
        counts?: object
        children?: Node[]
      }
      // The link callback runs after the chain's result is ready: wait for its result.
      const first = (await body(api.taskTree(`${r.id}.0`))).tree as Node
      await app.asyncResult(first.children![2]!.children![0]!.id).get({ timeout: 5000 })
      const reply = await body(api.taskTree(`${r.id}.0`))
      const tree = reply.tree as Node
      const link = tree.children![2]!.children![0]!
      assert.equal(reply.status, 200)
      assert.equal(reply.id, `${r.id}.0`)
      assert.equal(tree.kind, 'chain')
      assert.deepEqual(
        tree.children!.map((c) => [c.kind, c.task ?? null, c.state ?? null]),
        [
          ['task', 'add', 'SUCCESS'],
          ['group', null, null],
          ['task', 'sum', 'SUCCESS'],
        ],
      )
      assert.deepEqual(tree.children![1]!.counts, { SUCCESS: 2 })
      assert.deepEqual(
        tree.children![1]!.children!.map((m) => [m.task, m.state]),
        [
          ['mul', 'SUCCESS'],
          ['mul', 'SUCCESS'],
        ],
      )
      assert.deepEqual([link.kind, link.task, link.state], ['link', 'note', 'SUCCESS'])
      // The same tree from the last step's id (the chain's) and from a group member's.
      const fromEnd = (await body(api.taskTree(r.id))).tree as Node
      assert.deepEqual(fromEnd, tree)
      const member = tree.children![1]!.children![1]!.id
      assert.deepEqual((await body(api.taskTree(member))).tree, tree)
      // A task sent on its own is in no workflow.
      const alone = await add.delay(2, 2)
      await alone.get({ timeout: 5000 })
      assert.deepEqual(await body(api.taskTree(alone.id)), { id: alone.id, tree: null, status: 200 })
    } finally {
      await worker.stop()
    }
  })

  it('sets, lists and resets run-time rate limits; refuses a bad rate', async () => {
    const app = open()
    const api = new DashboardApi(app)
    assert.equal((await body(api.rateLimitAction({ queue: 'emails', rate: '10/s' }))).status, 200)
    assert.deepEqual((await body(api.rateLimits())).limits, [{ key: 'queue:emails', rate: '10/s' }])
    await assert.rejects(api.rateLimitAction({ queue: 'emails', rate: 'fast' }), /rate/)
    await api.rateLimitAction({ queue: 'emails', reset: true })
    assert.deepEqual((await body(api.rateLimits())).limits, [])
  })
})
