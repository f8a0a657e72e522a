/**
 * `celeriac worker --metrics-port`: per-task runtimes and outcomes, broker round trips, worker
 * slots and queue counts from a real worker on SQLite; and every metric the sample Grafana
 * dashboard (docs/grafana/celeriac.json) queries is one that worker exports.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp } from 'celeriac'
import {
  queueMetrics,
  queueSource,
  Registry,
  startMetricsServer,
  taskMetrics,
  timeBroker,
  workerMetrics,
} from 'celeriac/health'
import { Worker } from 'celeriac/worker'
import { ROOT, run, tempDir, until, type Proc } from './helpers.js'

const TASKS = join(ROOT, 'test/fixtures/observability-tasks.ts')

async function scrape(port: number, path = '/metrics'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: res.status, body: await res.text() }
}

/** The value of one sample line, e.g. `celeriac_task_succeeded_total{task="echo"}`. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n'))
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1))
  return undefined
}

/** Metric names a Grafana dashboard's queries use (panels and template variables). */
function grafanaMetrics(file: string): Set<string> {
  const text = readFileSync(file, 'utf8')
  return new Set(text.match(/\bceleriac_[a-z_]+/g) ?? [])
}

describe('worker --metrics-port', () => {
  const db = join(tempDir(), 'metrics.db')
  const broker = `sqlite://${db}`
  const app = createApp({ broker })
  const echo = app.task('echo', (_ctx, v: number) => v)
  const boom = app.task('boom', () => 0)
  const flaky = app.task('flaky', () => '')
  const procs: Proc[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await app.close()
  })

  it('exports per-task runtimes and outcomes, broker round trips, slots and queues; Grafana queries only those', async () => {
    const w = run(['-A', TASKS, 'worker', '--no-banner', '-c', '3', '--metrics-port', '0'], {
      CELERIAC_BROKER: broker,
    })
    procs.push(w)
    await w.waitFor(/metrics on :(\d+)/)
    const port = Number(/metrics on :(\d+)/.exec(w.output())![1])

    for (const r of await echo.sendMany([[1], [2], [3]])) await r.get({ timeout: 10_000 })
    await assert.rejects((await boom.delay()).get({ timeout: 10_000 }))
    assert.equal(await (await flaky.delay()).get({ timeout: 10_000 }), 'ok')

    // Counted as each run ends, before its outcome is written: wait for the last write's ack.
    let text = ''
    await until(
      async () => {
        text = (await scrape(port)).body
        return (sample(text, 'celeriac_worker_tasks{outcome="succeeded"}') ?? 0) >= 4
      },
      10_000,
      'outcomes counted',
    )
    assert.equal(sample(text, 'celeriac_task_succeeded_total{task="echo"}'), 3)
    assert.equal(sample(text, 'celeriac_task_runtime_seconds_count{task="echo"}'), 3)
    assert.equal(sample(text, 'celeriac_task_failed_total{task="boom"}'), 1)
    assert.equal(sample(text, 'celeriac_task_retried_total{task="flaky"}'), 1)
    assert.equal(sample(text, 'celeriac_task_succeeded_total{task="flaky"}'), 1)
    assert.equal(sample(text, 'celeriac_task_runtime_seconds_count{task="flaky"}'), 2)
    assert.ok((sample(text, 'celeriac_broker_call_seconds_count{operation="ack"}') ?? 0) >= 1, text)
    assert.ok((sample(text, 'celeriac_broker_call_seconds_count{operation="retry"}') ?? 0) >= 1, text)
    assert.equal(sample(text, 'celeriac_worker_concurrency'), 3)
    assert.equal(sample(text, 'celeriac_worker_running'), 0)
    assert.equal(sample(text, 'celeriac_queue_jobs{queue="default",state="waiting"}'), 0)
    assert.equal(sample(text, 'celeriac_queue_jobs{queue="default",state="dead"}'), 1)

    const exported = new Set(
      text
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => /^[a-z_]+/.exec(l)![0]),
    )
    const queried = grafanaMetrics(join(ROOT, 'docs/grafana/celeriac.json'))
    assert.ok(queried.size >= 10, `the dashboard queries ${[...queried].join(', ')}`)
    const missing = [...queried].filter((m) => !exported.has(m))
    assert.deepEqual(missing, [], `queried by the Grafana dashboard but not exported: ${missing.join(', ')}`)

    // The docs name every metric the worker exports.
    const doc = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8')
    const families = [...text.matchAll(/^# TYPE (celeriac_[a-z_]+) /gm)].map((m) => m[1]!)
    assert.deepEqual(
      families.filter((f) => !doc.includes(f)),
      [],
      'docs/observability.md names every metric',
    )

    assert.equal((await scrape(port, '/livez')).status, 404)
    w.kill('SIGTERM')
    assert.equal(await w.exited(), 0)
  })
})

describe('metrics of a worker a program runs (celeriac/health)', () => {
  it('counts the same metrics in process, as docs/observability.md shows', async () => {
    const app = createApp({ broker: `sqlite://${join(tempDir(), 'lib.db')}` })
    const add = app.task('add', (_ctx, a: number, b: number) => a + b)
    const registry = new Registry()
    const worker = new Worker(app, { concurrency: 2, control: false, watch: taskMetrics(registry) })
    timeBroker(await app.broker(), registry)
    workerMetrics(registry, worker)
    queueMetrics(
      registry,
      queueSource(async () => (await app.broker()).stats(worker.queues)),
    )
    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', registry })
    await worker.start()
    try {
      const settled = new Promise<void>((resolve) => {
        let n = 0
        worker.on('settled', () => ++n === 2 && resolve())
      })
      for (const r of await add.sendMany([
        [1, 2],
        [3, 4],
      ]))
        await r.get({ timeout: 10_000 })
      await settled
      const text = (await scrape(server.port)).body
      assert.equal(sample(text, 'celeriac_task_succeeded_total{task="add"}'), 2)
      assert.equal(sample(text, 'celeriac_task_runtime_seconds_count{task="add"}'), 2)
      assert.ok((sample(text, 'celeriac_broker_call_seconds_count{operation="publish"}') ?? 0) >= 1)
      assert.equal(sample(text, 'celeriac_worker_concurrency'), 2)
    } finally {
      await worker.stop()
      await server.close()
      await app.close()
    }
  })
})
