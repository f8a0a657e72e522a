/**
 * Flow control with real worker processes on SQLite, Redis, PostgreSQL and RabbitMQ (results and
 * coordination on Redis): a global rate limit held by three
 * workers together, per-key concurrency never exceeded (and a SIGKILLed worker's slot given
 * back), a small tenant not held up by a big tenant's backlog, and unique and debounced sends
 * from concurrent senders. Tasks are in test/fixtures/flow-tasks.ts; they journal what ran. One
 * file per engine (flow-<engine>.test.ts), so each stays well inside the runner's time per file.
 */
import assert from 'node:assert/strict'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it as test, type TestContext } from 'node:test'
import { createApp, type App } from 'celeriac'
import { define } from '../fixtures/flow-tasks.js'
import type { EngineUrls } from '../support/engine-urls.js'
import { cli, ROOT, run, tempDir, until, type Proc } from './helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/flow-tasks.ts')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type Line = { event: string; key: string; at: number; pid: number }

function lines(file: string): Line[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [event, key, at, pid] = l.split(' ')
      return { event: event!, key: key!, at: Number(at), pid: Number(pid) }
    })
}

/** Most runs of one key at once, from its start and end lines. */
function mostAtOnce(all: Line[], key: string): number {
  const events = all
    .filter((l) => l.key === key && (l.event === 'start' || l.event === 'end'))
    .sort((a, b) => a.at - b.at || (a.event === 'end' ? -1 : 1))
  let n = 0
  let most = 0
  for (const e of events) {
    n += e.event === 'start' ? 1 : -1
    most = Math.max(most, n)
  }
  return most
}

/** One engine for the suite: where processes connect, and tests it leaves out (with the reason). */
export interface FlowEngine {
  readonly name: string
  readonly url: string
  /** The result backend, when not the broker's. */
  readonly results?: string
  readonly skip?: Readonly<Record<string, string>>
  cleanup(): Promise<void>
}

export function ofUrls(engine: EngineUrls): FlowEngine {
  return { name: engine.name, url: engine.url(), cleanup: () => engine.cleanup() }
}

export function flowSuite(engine: FlowEngine): void {
  describe(`flow control with worker processes: ${engine.name}`, () => {
    const { url, results } = engine
    const env: Record<string, string> = {
      CELERIAC_BROKER: url,
      ...(results ? { CELERIAC_RESULT_BACKEND: results } : {}),
    }
    const it = (name: string, fn: (t: TestContext) => Promise<void>) =>
      test(name, engine.skip?.[name] ? { skip: engine.skip[name] } : {}, fn)
    const journal = join(tempDir('celeriac-flow-'), 'journal')
    const workers: Proc[] = []
    const apps: App[] = []
    const sender = () => {
      const app = createApp({ broker: url, ...(results ? { resultBackend: results } : {}) })
      apps.push(app)
      return { app, ...define(app) }
    }
    const startWorker = (args: string[] = []) => {
      const w = run(['-A', FIXTURE, 'worker', '--no-banner', '-c', '20', '--lease', '3s', ...args], {
        ...env,
        JOURNAL: journal,
      })
      workers.push(w)
      return w
    }

    before(async () => {
      for (let i = 0; i < 3; i++) startWorker()
      await Promise.all(workers.map((w) => w.waitFor(/ready/, 30_000)))
    })

    after(async () => {
      for (const w of workers) w.kill('SIGKILL')
      await Promise.all(workers.map((w) => w.exited()))
      for (const a of apps) await a.close()
      await engine.cleanup()
    })

    it('three workers with rateLimit 50/s start about 50 a second together; deferrals count no delivery', async (t) => {
      const { app, rated } = sender()
      for (let i = 0; i < 4; i++) await rated.sendMany(Array.from({ length: 250 }, () => []))
      await until(() => lines(journal).some((l) => l.event === 'rated'), 20_000, 'a first run')
      await sleep(10_500)
      const runs = lines(journal)
        .filter((l) => l.event === 'rated')
        .map((l) => l.at)
        .sort((a, b) => a - b)
      const first = runs[0]!
      const inWindow = runs.filter((at) => at < first + 10_000).length
      t.diagnostic(
        `${inWindow} starts in 10 s (${(inWindow / 10).toFixed(1)}/s) by ${workers.length} workers`,
      )
      assert.ok(
        inWindow >= 400 && inWindow <= 560,
        `${inWindow} starts in 10 s, expected about 500 (+10 burst)`,
      )
      assert.equal(
        new Set(
          lines(journal)
            .filter((l) => l.event === 'rated')
            .map((l) => l.pid),
        ).size,
        3,
      )
      const broker = await app.broker()
      const [s] = await broker.stats(['default'])
      assert.equal(s!.dead, 0, 'no job reached max-deliveries through deferrals')
      await broker.purge('default')
    })

    it('celeriac rate-limit changes the rate of running workers within about a second, and --reset restores it', async (t) => {
      const { app, rated } = sender()
      const set = await cli(['rate-limit', 'flow.rated', '10/s'], env)
      assert.equal(set.code, 0, set.out)
      await sleep(1500)
      const before = lines(journal).filter((l) => l.event === 'rated').length
      await rated.sendMany(Array.from({ length: 200 }, () => []))
      await sleep(3000)
      const runs = lines(journal)
        .filter((l) => l.event === 'rated')
        .slice(before)
        .map((l) => l.at)
        .sort((a, b) => a - b)
      const inWindow = runs.filter((at) => at < runs[0]! + 2000).length
      t.diagnostic(`${inWindow} starts in 2 s at 10/s set at run time`)
      assert.ok(inWindow >= 15 && inWindow <= 23, `${inWindow} starts in 2 s, expected about 20 (+2 burst)`)
      // Back to the task's own 50/s for jobs sent after the change.
      await (await app.broker()).purge('default')
      const reset = await cli(['rate-limit', 'flow.rated', '--reset'], env)
      assert.equal(reset.code, 0, reset.out)
      await sleep(1500)
      const back = lines(journal).filter((l) => l.event === 'rated').length
      await rated.sendMany(Array.from({ length: 200 }, () => []))
      await sleep(2500)
      const after = lines(journal)
        .filter((l) => l.event === 'rated')
        .slice(back)
        .map((l) => l.at)
        .sort((a, b) => a - b)
      const n = after.filter((at) => at < after[0]! + 2000).length
      t.diagnostic(`${n} starts in 2 s after --reset (the task's own 50/s)`)
      assert.ok(n >= 80 && n <= 115, `${n} starts in 2 s after --reset, expected about 100 (+10 burst)`)
      await (await app.broker()).purge('default')
    })

    it('per-key concurrency 2 is never exceeded under 3 workers × 20 slots', async () => {
      const { tenantJob } = sender()
      const calls: [string, number][] = []
      for (let i = 0; i < 120; i++) calls.push(['t-a', 5 + (i % 4) * 5])
      for (let i = 0; i < 40; i++) calls.push(['t-b', 10], ['t-c', 15])
      const rs = await tenantJob.sendMany(calls)
      await Promise.all(rs.map((r) => r.get({ timeout: 60_000 })))
      const all = lines(journal)
      assert.equal(mostAtOnce(all, 't-a'), 2, 'tenant a reaches its 2 and no more')
      assert.ok(mostAtOnce(all, 't-b') <= 2)
      assert.ok(mostAtOnce(all, 't-c') <= 2)
    })

    it('a 10-job tenant is not held up behind a 10,000-job tenant', async (t) => {
      const { app, tenantJob } = sender()
      for (let i = 0; i < 10; i++) await tenantJob.sendMany(Array.from({ length: 1000 }, () => ['big', 10]))
      const sentAt = Date.now()
      const small = await tenantJob.sendMany(
        Array.from({ length: 10 }, () => ['small', 10] as [string, number]),
      )
      await Promise.all(small.map((r) => r.get({ timeout: 60_000 })))
      const tookMs = Date.now() - sentAt
      const bigDone = lines(journal).filter((l) => l.key === 'big' && l.event === 'end').length
      t.diagnostic(`small tenant done in ${tookMs} ms; the big tenant ran ${bigDone} of 10,000 meanwhile`)
      // Behind the big backlog at 2 at a time it would wait 10,000 × 15 ms / 2 = 75 s.
      assert.ok(tookMs < 30_000, `the small tenant waited ${tookMs} ms`)
      assert.ok(bigDone < 5000, 'the small tenant did not wait for the big backlog')
      await (await app.broker()).purge('default')
    })

    it('a SIGKILLed worker gives its per-key slot back within one lease', async () => {
      const { single } = sender()
      const long = await single.delay('k', 6000)
      await until(() => lines(journal).some((l) => l.event === 'start' && l.key === 'k'), 20_000, 'a start')
      const holder = lines(journal).find((l) => l.event === 'start' && l.key === 'k')!.pid
      const next = await single.delay('k', 10)
      await sleep(500)
      assert.equal(
        lines(journal).filter((l) => l.event === 'start' && l.key === 'k').length,
        1,
        'one at a time',
      )
      const w = workers.find((p) => p.child.pid === holder)!
      w.kill('SIGKILL')
      await w.exited()
      workers.splice(workers.indexOf(w), 1)
      startWorker()
      // The killed run's lease (3 s) and slot lapse; one of the two jobs runs, then the other.
      await until(
        () => lines(journal).filter((l) => l.event === 'start' && l.key === 'k').length >= 2,
        20_000,
        'a run after the kill',
      )
      await Promise.all([long.get({ timeout: 60_000 }), next.get({ timeout: 60_000 })])
    })

    it('unique: 100 concurrent sends from 4 senders make one job, and every send answers its result', async () => {
      const senders = Array.from({ length: 4 }, () => sender())
      const rs = (
        await Promise.all(
          senders.map((s) => Promise.all(Array.from({ length: 25 }, () => s.report.delay('acme')))),
        )
      ).flat()
      const ids = new Set(rs.map((r) => r.id))
      assert.equal(ids.size, 1, `one job for all sends, got ${ids.size}`)
      assert.equal(await rs[0]!.get({ timeout: 20_000 }), 'acme')
      const runs = lines(journal).filter((l) => l.event === 'report' && l.key.startsWith('acme:'))
      assert.equal(runs.length, 1)
    })

    it('debounce: 40 concurrent sends from 4 senders run once; the others read REVOKED', async () => {
      const senders = Array.from({ length: 4 }, () => sender())
      const rs = (
        await Promise.all(
          senders.map((s, i) =>
            Promise.all(Array.from({ length: 10 }, (_, j) => s.reindex.delay('doc', i * 10 + j))),
          ),
        )
      ).flat()
      await until(
        async () => (await Promise.all(rs.map((r) => r.ready()))).every(Boolean),
        20_000,
        'every send ready',
      )
      const runs = lines(journal).filter((l) => l.event === 'reindex' && l.key.startsWith('doc:'))
      assert.equal(runs.length, 1, `one run, got ${runs.length}`)
      const states = await Promise.all(rs.map((r) => r.state()))
      assert.equal(states.filter((s) => s === 'SUCCESS').length, 1)
      assert.equal(states.filter((s) => s === 'REVOKED').length, 39)
      const winner = rs[states.indexOf('SUCCESS')]!
      assert.equal(runs[0]!.key.split(':')[2], winner.id)
    })
  })
}
