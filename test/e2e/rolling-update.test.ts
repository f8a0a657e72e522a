/**
 * A rolling update with real processes: two v1 workers under load, two v2 workers started beside
 * them, then the v1 workers get SIGTERM (what an orchestrator sends) while tasks keep flowing.
 * Nothing may be lost, and since nobody was killed outright, nothing may run twice: a warm
 * shutdown finishes what runs and hands back what it had only buffered.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp } from 'celeriac'
import { journal, tempDir, until, worker, type Proc } from './helpers.js'

const TASKS = 1500
const SLEEP_MS = 20

describe('rolling update of workers', () => {
  const dir = tempDir()
  const db = join(dir, 'rolling.db')
  const jfile = join(dir, 'journal.log')
  const app = createApp({ broker: `sqlite://${db}` })
  const sleepy = app.task('sleepy', (_ctx, _ms: number) => 0)
  const procs: Proc[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await app.close()
  })

  it('SIGTERM to the old workers under load: 0 lost, none run twice', async () => {
    const start = (version: string) => {
      const p = worker(db, ['-c', '4', '--grace', '20s'], { JOURNAL: jfile, VERSION: version })
      procs.push(p)
      return p
    }
    const v1 = [start('v1'), start('v1')]
    await Promise.all(v1.map((p) => p.waitFor(/ready/)))

    const ids: string[] = []
    const send = async (n: number) => {
      const rs = await sleepy.sendMany(Array.from({ length: n }, () => [SLEEP_MS] as [number]))
      for (const r of rs) ids.push(r.id)
    }
    await send(TASKS / 3)
    const done = () => journal(jfile).filter((l) => l.event === 'done').length
    await until(() => done() >= 50, 20_000, 'v1 working')

    const v2 = [start('v2'), start('v2')]
    await Promise.all(v2.map((p) => p.waitFor(/ready/)))
    await send(TASKS / 3)
    // The old workers are told to stop while both versions hold work and more keeps coming.
    for (const p of v1) p.kill('SIGTERM')
    await send(TASKS / 3)
    const codes = await Promise.all(v1.map((p) => p.exited()))
    assert.deepEqual(codes, [0, 0], 'the old workers stopped cleanly')

    await until(() => done() >= TASKS, 60_000, `${TASKS} tasks done`)
    // A task journals its end before its worker writes the result (in a batch): wait for those.
    const store = (await app.resultStore())!
    const unfinished = async () => (await store.get(ids)).filter((r) => r?.state !== 'SUCCESS').length
    await until(async () => (await unfinished()) === 0, 10_000, 'every result written').catch(() => {})
    assert.equal(await unfinished(), 0, 'every task succeeded')

    const runs = new Map<string, number>()
    const byPid = new Map<number, number>()
    for (const l of journal(jfile)) {
      if (l.event !== 'start') continue
      runs.set(l.id, (runs.get(l.id) ?? 0) + 1)
      byPid.set(l.pid, (byPid.get(l.pid) ?? 0) + 1)
    }
    assert.equal(runs.size, TASKS, 'every task ran')
    const twice = [...runs].filter(([, n]) => n > 1)
    assert.deepEqual(twice, [], 'no task ran twice')
    const pidsOf = (ps: Proc[]) => ps.map((p) => p.child.pid!)
    assert.ok(
      pidsOf(v1).some((pid) => byPid.has(pid)),
      'v1 ran tasks',
    )
    assert.ok(
      pidsOf(v2).every((pid) => byPid.has(pid)),
      'each v2 worker ran tasks',
    )
    for (const p of v2) p.kill('SIGTERM')
    assert.deepEqual(await Promise.all(v2.map((p) => p.exited())), [0, 0])
  })
})
