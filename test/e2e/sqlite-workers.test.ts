/**
 * Real worker processes on one SQLite file: crashes, many workers, shutdown, limits, bad input.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { journal, tempDir, until, worker, type Proc } from './helpers.js'

function setup(): { db: string; jfile: string; app: App; procs: Proc[] } {
  const dir = tempDir()
  const db = join(dir, 'queue.db')
  return { db, jfile: join(dir, 'journal.log'), app: createApp({ broker: `sqlite://${db}` }), procs: [] }
}

describe('worker processes on SQLite', () => {
  const cleanups: (() => Promise<void>)[] = []
  after(async () => {
    for (const c of cleanups) await c()
  })
  const track = (s: ReturnType<typeof setup>) => {
    cleanups.push(async () => {
      for (const p of s.procs) p.kill('SIGKILL')
      await s.app.close()
    })
    return s
  }

  it('re-runs a task on another worker after its worker is SIGKILLed mid-task', async () => {
    const s = track(setup())
    const env = { JOURNAL: s.jfile }
    const a = worker(s.db, ['-c', '1', '--lease', '1s'], env)
    s.procs.push(a)
    await a.waitFor(/ready/)
    const r = await s.app.sendTask<number>('sleepy', [1500])
    await until(() => journal(s.jfile).some((l) => l.event === 'start'), 10_000, 'task start')
    a.kill('SIGKILL')
    await a.exited()
    const b = worker(s.db, ['-c', '1', '--lease', '1s'], env)
    s.procs.push(b)
    assert.equal(await r.get({ timeout: 20_000 }), 1500)
    const lines = journal(s.jfile)
    const pids = new Set(lines.filter((l) => l.event === 'start').map((l) => l.pid))
    assert.equal(pids.size, 2, 'started once in each worker')
    assert.equal(lines.filter((l) => l.event === 'done').length, 1, 'finished once, in the second worker')
    assert.equal(lines.find((l) => l.event === 'done')!.pid, b.child.pid)
    const rec = await r.record()
    assert.equal(rec!.state, 'SUCCESS')
    b.kill('SIGTERM')
    assert.equal(await b.exited(), 0)
  })

  it('1,000 tasks across 3 worker processes: every one completes, each acknowledged once', async () => {
    const s = track(setup())
    const env = { JOURNAL: s.jfile }
    // The producer registers the name only to get a typed handle; the workers run the fixture's code.
    const sleepy = s.app.task('sleepy', (_ctx, _ms: number) => 0)
    for (let i = 0; i < 3; i++) s.procs.push(worker(s.db, ['-c', '8'], env))
    await Promise.all(s.procs.map((p) => p.waitFor(/ready/)))
    const results = await sleepy.sendMany(Array.from({ length: 1000 }, () => [10] as [number]))
    await until(() => journal(s.jfile).filter((l) => l.event === 'done').length >= 1000, 60_000, '1,000 runs')
    await until(
      async () => (await Promise.all(results.map((r) => r.state()))).every((st) => st === 'SUCCESS'),
      20_000,
      'all SUCCESS',
    )
    const runs = journal(s.jfile).filter((l) => l.event === 'done')
    const perId = new Map<string, number>()
    for (const l of runs) perId.set(l.id, (perId.get(l.id) ?? 0) + 1)
    assert.equal(perId.size, 1000)
    const duplicates = [...perId.values()].filter((n) => n > 1).length
    assert.equal(duplicates, 0, 'no crash, so no duplicate runs')
    const usedWorkers = new Set(runs.map((l) => l.pid))
    assert.equal(usedWorkers.size, 3, 'all three workers took work')
    const [st] = await (await s.app.broker()).stats(['default'])
    assert.deepEqual([st!.waiting, st!.delayed, st!.active, st!.dead], [0, 0, 0, 0], 'the queue is empty')
    await Promise.all(
      s.procs.map(async (p) => {
        p.kill('SIGTERM')
        assert.equal(await p.exited(), 0)
      }),
    )
  })
})
