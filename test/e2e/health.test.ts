/**
 * What an orchestrator sees of real processes: a worker's /livez, /readyz, /metrics and /queues
 * (`--health-port`), and `celeriac exporter` for an autoscaler, on the SQLite broker.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp } from 'celeriac'
import { ROOT, run, tempDir, until, type Proc } from './helpers.js'
import { freePort } from './redis-helpers.js'

const TASKS = join(ROOT, 'test/fixtures/health-tasks.ts')

// Parsed JSON of several shapes, read field by field by the assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>

async function get(port: number, path: string): Promise<{ status: number; body: string; json: () => Json }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  const body = await res.text()
  return { status: res.status, body, json: () => JSON.parse(body) }
}

/** The port a process printed ("… on :12345 …"). */
async function portOf(p: Proc, pattern: RegExp): Promise<number> {
  await p.waitFor(pattern)
  return Number(pattern.exec(p.output())![1])
}

describe('worker health server', () => {
  const db = join(tempDir(), 'health.db')
  const broker = `sqlite://${db}`
  const app = createApp({ broker })
  const echo = app.task('echo', (_ctx, v: number) => v)
  const spin = app.task('spin', (_ctx, ms: number) => ms)
  const nap = app.task('nap', (_ctx, ms: number) => ms)
  const procs: Proc[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await app.close()
  })

  it('answers liveness, readiness and metrics; a blocked event loop fails liveness; stopping is not ready', async () => {
    const w = run(
      [
        '-A',
        TASKS,
        'worker',
        '--no-banner',
        '-c',
        '2',
        '--health-port',
        '0',
        '--health-max-lag',
        '400ms',
        '--grace',
        '10s',
      ],
      { CELERIAC_BROKER: broker },
    )
    procs.push(w)
    const port = await portOf(w, /health server on :(\d+)/)
    await until(async () => (await get(port, '/readyz')).status === 200, 20_000, 'ready')
    const ready = (await get(port, '/readyz')).json()
    assert.deepEqual(ready, { ok: true, phase: 'consuming', failing: [] })
    assert.equal((await get(port, '/livez')).status, 200)

    const rs = await echo.sendMany([[1], [2], [3]])
    for (const r of rs) await r.get({ timeout: 10_000 })
    const metrics = (await get(port, '/metrics')).body
    assert.match(metrics, /celeriac_worker_tasks\{outcome="succeeded"\} 3/)
    assert.match(metrics, /celeriac_worker_concurrency 2/)
    assert.match(metrics, /celeriac_queue_jobs\{queue="default",state="waiting"\} 0/)
    const queues = (await get(port, '/queues')).json()
    assert.equal(queues.total.waiting, 0)
    assert.ok('default' in queues.queues)
    assert.equal((await get(port, '/nope')).status, 404)

    // A task that holds the event loop for 1.2 s: liveness fails for the window after it.
    await (await spin.delay(1200)).get({ timeout: 10_000 })
    const live = await get(port, '/livez')
    assert.equal(live.status, 503, live.body)
    assert.ok(live.json().eventLoopDelayMs >= 400, live.body)

    // A warm shutdown with a task running: no longer ready while it finishes.
    const long = await nap.delay(3000)
    await until(
      async () => /celeriac_worker_running 1/.test((await get(port, '/metrics')).body),
      10_000,
      'nap running',
    )
    w.kill('SIGTERM')
    await until(async () => (await get(port, '/readyz')).json().phase === 'stopping', 5000, 'stopping')
    assert.equal((await get(port, '/readyz')).status, 503)
    assert.equal(await w.exited(), 0)
    assert.equal(await long.get({ timeout: 1000 }), 3000, 'the running task finished in the grace')
  })
})

describe('celeriac exporter', () => {
  const procs: Proc[] = []
  after(() => {
    for (const p of procs) p.kill('SIGKILL')
  })

  it('serves queue counts as JSON and Prometheus text for autoscalers, with no worker running', async () => {
    const db = join(tempDir(), 'exporter.db')
    const app = createApp({ broker: `sqlite://${db}` })
    const echo = app.task('echo', (_ctx, v: number) => v)
    await echo.sendMany([[1], [2], [3], [4], [5]])
    await echo.applyAsync([6], { queue: 'email' })
    await echo.applyAsync([7], { countdown: 60_000 })
    const port = await freePort()
    const p = run(['-A', TASKS, 'exporter', '--port', String(port)], { CELERIAC_BROKER: `sqlite://${db}` })
    procs.push(p)
    await p.waitFor(/exporter on :\d+/)
    const q = (await get(port, '/queues')).json()
    assert.equal(q.queues.default.waiting, 5)
    assert.equal(q.queues.default.delayed, 1)
    assert.equal(q.queues.email.waiting, 1)
    assert.equal(q.total.waiting, 6)
    const metrics = (await get(port, '/metrics')).body
    assert.match(metrics, /celeriac_queue_jobs\{queue="default",state="waiting"\} 5/)
    assert.match(metrics, /celeriac_queue_jobs\{queue="email",state="waiting"\} 1/)
    assert.equal((await get(port, '/readyz')).status, 200)
    p.kill('SIGTERM')
    assert.equal(await p.exited(), 0)
    await app.close()
  })

  it('stays up and reports not ready while the broker cannot be reached', async () => {
    const dead = await freePort()
    const port = await freePort()
    const p = run(['-A', TASKS, 'exporter', '--port', String(port)], {
      CELERIAC_BROKER: `redis://127.0.0.1:${dead}/0`,
    })
    procs.push(p)
    await p.waitFor(/exporter on :\d+/, 30_000)
    const ready = await get(port, '/readyz')
    assert.equal(ready.status, 503)
    assert.equal((await get(port, '/queues')).status, 503)
    assert.equal((await get(port, '/livez')).status, 200)
    p.kill('SIGTERM')
    await p.exited()
  })

  it('refuses a broker URL that can never work, naming it', async () => {
    const p = run(['-A', TASKS, 'exporter', '--port', String(await freePort())], {
      CELERIAC_BROKER: 'nosuch://x',
    })
    procs.push(p)
    assert.equal(await p.exited(), 1)
    assert.match(p.output(), /nosuch/)
  })
})
