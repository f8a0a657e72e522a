/**
 * Worker processes on PostgreSQL being SIGKILLed: 10,000 tasks, three workers, one of them killed
 * every second or two and replaced, until every task has run. Every task must finish with SUCCESS (the
 * result store is the same PostgreSQL schema), and a task may run twice only if a killed worker
 * had started it (at-least-once, never "twice for nothing"); nothing is left in the queue.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp } from 'celeriac'
import { postgresUrl, postgresTestSchema } from '../conformance/postgres-env.js'
import { Prng } from '../support/prng.js'
import { FIXTURE, journal, run, tempDir, until, type Proc } from './helpers.js'

const TASKS = 10_000
// ~800 tasks/s over three workers: the run lasts long enough for a dozen kills.
const SLEEP_MS = 10
const WORKER_ARGS = ['-c', '8', '--lease', '2s', '--max-deliveries', '100']

describe('worker processes on PostgreSQL, killed at random', { timeout: 120_000 }, () => {
  const url = postgresUrl(postgresTestSchema(), 3)
  const app = createApp({ broker: url })
  const procs: Proc[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited()))
    await app.close()
  })
  const pgWorker = (env: Record<string, string>) =>
    run(['-A', FIXTURE, 'worker', '--no-banner', ...WORKER_ARGS], { CELERIAC_BROKER: url, ...env })

  it('10,000 tasks all complete; duplicates only for tasks started in a killed worker', async (t) => {
    const jfile = join(tempDir(), 'journal.log')
    const env = { JOURNAL: jfile }
    const sleepy = app.task('sleepy', (_ctx, _ms: number) => 0)
    const live: Proc[] = []
    const spawnWorker = () => {
      const p = pgWorker(env)
      procs.push(p)
      live.push(p)
      return p
    }
    for (let i = 0; i < 3; i++) spawnWorker()
    await Promise.all(live.map((p) => p.waitFor(/ready/)))

    const ids: string[] = []
    for (let sent = 0; sent < TASKS; sent += 1000) {
      const rs = await sleepy.sendMany(Array.from({ length: 1000 }, () => [SLEEP_MS] as [number]))
      for (const r of rs) ids.push(r.id)
    }

    // Every 0.8-2 s (seeded), one worker that is running tasks is SIGKILLed and a new one started.
    // Only ready workers are chosen: on a busy machine a worker takes seconds to start, and
    // killing starting ones would stop the run, not test it.
    const rng = new Prng(Number(process.env.CHAOS_SEED ?? 20))
    t.diagnostic(`seed ${rng.seed} (CHAOS_SEED)`)
    const killed = new Set<number>()
    const doneIds = () => new Set(journal(jfile).flatMap((l) => (l.event === 'done' ? [l.id] : [])))
    let finished = false
    const killer = (async () => {
      while (!finished) {
        await new Promise((r) => setTimeout(r, rng.int(800, 2000)))
        const ready = live.filter((p) => /ready/.test(p.output()))
        if (finished || ready.length < 2) continue
        const victim = ready[rng.int(0, ready.length - 1)]!
        live.splice(live.indexOf(victim), 1)
        killed.add(victim.child.pid!)
        victim.kill('SIGKILL')
        spawnWorker()
      }
    })()
    try {
      const t0 = Date.now()
      await until(
        async () => {
          await new Promise((r) => setTimeout(r, 250))
          return doneIds().size >= TASKS
        },
        55_000,
        `${TASKS} tasks done`,
      ).catch((err: Error) => {
        throw new Error(`${err.message} (${doneIds().size} done, ${killed.size} killed)`)
      })
      t.diagnostic(`all done in ${Date.now() - t0} ms`)
    } finally {
      finished = true
      await killer
    }

    const store = (await app.resultStore())!
    let notOk = -1
    await until(
      async () => (notOk = (await store.get(ids)).filter((r) => r?.state !== 'SUCCESS').length) === 0,
      10_000, // the journal's "done" comes just before the result is written
      'every result SUCCESS',
    ).catch(() => {})
    assert.equal(notOk, 0, 'every task has a SUCCESS result')

    const perId = new Map<string, { start: number[]; done: number[] }>()
    for (const l of journal(jfile)) {
      let e = perId.get(l.id)
      if (!e) perId.set(l.id, (e = { start: [], done: [] }))
      if (l.event === 'start') e.start.push(l.pid)
      else if (l.event === 'done') e.done.push(l.pid)
    }
    assert.equal(perId.size, TASKS)
    let duplicates = 0
    for (const id of ids) {
      const e = perId.get(id)
      assert.ok(e && e.done.length >= 1, `task ${id} ran to the end`)
      const survivors = (pids: number[]) => pids.filter((p) => !killed.has(p)).length
      assert.ok(survivors(e.start) <= 1, `task ${id} started at most once outside killed workers`)
      assert.ok(survivors(e.done) <= 1, `task ${id} finished at most once outside killed workers`)
      if (e.start.length > 1 || e.done.length > 1) {
        duplicates++
        assert.ok(
          e.start.some((p) => killed.has(p)),
          `task ${id} ran more than once but no killed worker had started it: ${JSON.stringify(e)}`,
        )
      }
    }
    assert.ok(killed.size >= 3, `workers were killed during the run (${killed.size})`)
    t.diagnostic(
      `${killed.size} workers killed; ${duplicates} tasks ran more than once, all in killed workers`,
    )

    const broker = await app.broker()
    await until(
      async () => {
        const [st] = await broker.stats(['default'])
        return st!.waiting + st!.delayed + st!.active === 0
      },
      30_000, // jobs held by the last killed worker come back when their 2 s leases expire
      'queue empty',
    )
    const [st] = await broker.stats(['default'])
    assert.deepEqual([st!.waiting, st!.delayed, st!.active, st!.dead], [0, 0, 0, 0], 'the queue is empty')

    await Promise.all(
      live.map(async (p) => {
        await p.waitFor(/ready/) // a worker spawned just now has no SIGTERM handler yet
        p.kill('SIGTERM')
        assert.equal(await p.exited(), 0)
      }),
    )
  })
})
