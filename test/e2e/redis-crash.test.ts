/**
 * Worker processes on Redis being SIGKILLed: 10,000 tasks, three workers, one of them killed every
 * second and replaced, until every task has run. Every task must finish with SUCCESS, and a task
 * may run twice only if a killed worker had started it (at-least-once, never "twice for nothing").
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp } from 'celeriac'
import { journal, tempDir, until, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, redisWorker, withPrefix } from './redis-helpers.js'

const TASKS = 10_000
// ~800 tasks/s over three workers: the run lasts long enough for a dozen kills.
const SLEEP_MS = 15
const WORKER_ARGS = ['-c', '4', '--lease', '2s', '--max-deliveries', '100']

describe('worker processes on Redis, killed every second', () => {
  const { url, prefix } = withPrefix(REDIS_BASE, 'crash')
  const app = createApp({ broker: url })
  const procs: Proc[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await app.close()
    await deletePrefix(REDIS_BASE, prefix)
  })

  it('10,000 tasks all complete; duplicates only for tasks started in a killed worker', async (t) => {
    const jfile = join(tempDir(), 'journal.log')
    const env = { JOURNAL: jfile }
    const sleepy = app.task('sleepy', (_ctx, _ms: number) => 0)
    const live: Proc[] = []
    const spawnWorker = () => {
      const p = redisWorker(url, WORKER_ARGS, env)
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

    const killed = new Set<number>()
    const doneIds = () => new Set(journal(jfile).flatMap((l) => (l.event === 'done' ? [l.id] : [])))
    const killer = setInterval(() => {
      const victim = live.shift()!
      killed.add(victim.child.pid!)
      victim.kill('SIGKILL')
      spawnWorker()
    }, 1000)
    try {
      await until(() => doneIds().size >= TASKS, 75_000, `${TASKS} tasks done`)
    } finally {
      clearInterval(killer)
    }

    const store = (await app.resultStore())!
    const records = await store.get(ids)
    const notOk = records.filter((r) => r?.state !== 'SUCCESS').length
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
