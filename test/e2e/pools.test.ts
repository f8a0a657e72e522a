/**
 * `celeriac worker --pool threads|processes`, through the real CLI on SQLite (and Redis once):
 * the hard limit kills a CPU-bound task's child and the worker serves the next task; children
 * are recycled by task count and memory; a child that exits or is SIGKILLed mid-task fails the
 * task by its retry policy while the worker keeps serving.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { journal, ROOT, run, tempDir, until, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const POOL_FIXTURE = resolve(ROOT, 'test/fixtures/pool-tasks.ts')
type Where = { pid: number; threadId: number }

describe('worker pools', () => {
  const procs: Proc[] = []
  const apps: App[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const a of apps) await a.close()
  })

  function start(kind: string, args: string[], broker?: string) {
    const dir = tempDir('celeriac-pool-')
    const url = broker ?? `sqlite://${join(dir, 'queue.db')}`
    const jfile = join(dir, 'journal.log')
    const w = run(['-A', POOL_FIXTURE, 'worker', '--no-banner', '--pool', kind, ...args], {
      CELERIAC_BROKER: url,
      JOURNAL: jfile,
    })
    procs.push(w)
    const app = createApp({ broker: url })
    apps.push(app)
    return { w, app, jfile }
  }

  async function stop(w: Proc) {
    w.kill('SIGTERM')
    assert.equal(await w.exited(), 0, w.output())
  }

  /** The child's identity: its pid for a process, its thread id for a thread. */
  const child = (kind: string, at: Where) => (kind === 'threads' ? at.threadId : at.pid)

  for (const kind of ['threads', 'processes']) {
    describe(kind, () => {
      it('the hard limit kills an infinite loop; the worker serves the next task from a new child', async () => {
        const { w, app, jfile } = start(kind, ['-c', '1'])
        await w.waitFor(/ready/)
        const before = await (await app.sendTask<Where>('whoami')).get({ timeout: 20_000 })
        const spin = await app.sendTask('spin')
        const next = await app.sendTask<Where>('whoami')
        await assert.rejects(spin.get({ timeout: 20_000 }), {
          name: 'TimeLimitExceededError',
          message: /hard time limit of 500 ms/,
        })
        assert.equal(await spin.state(), 'FAILURE')
        const after = await next.get({ timeout: 20_000 })
        assert.notEqual(child(kind, after), child(kind, before), 'the killed child was replaced')
        assert.equal(after.pid === process.pid, false)
        assert.equal(journal(jfile).filter((l) => l.event === 'start').length, 1, 'no retry by default')
        await stop(w)
      })

      it('--max-tasks-per-child replaces a child after that many tasks', async () => {
        const { w, app } = start(kind, ['-c', '1', '--max-tasks-per-child', '2'])
        await w.waitFor(/ready/)
        const seen: number[] = []
        for (let i = 0; i < 6; i++)
          seen.push(child(kind, await (await app.sendTask<Where>('whoami')).get({ timeout: 20_000 })))
        assert.equal(new Set(seen).size, 3, `two tasks per child: ${seen.join(' ')}`)
        assert.equal(seen[0], seen[1])
        assert.notEqual(seen[1], seen[2])
        await stop(w)
      })

      it('a task that calls process.exit is retried by its policy, then fails; the worker goes on', async () => {
        const { w, app, jfile } = start(kind, ['-c', '2'])
        await w.waitFor(/ready/)
        const bail = await app.sendTask('bail')
        await assert.rejects(bail.get({ timeout: 20_000 }), {
          name: 'WorkerLostError',
          message: /exited prematurely: (thread|process) exited with code 3/,
        })
        assert.equal(journal(jfile).filter((l) => l.id === bail.id).length, 2, 'one retry (retries.max 1)')
        assert.deepEqual(await (await app.sendTask('noop')).get({ timeout: 20_000 }), null)
        await stop(w)
      })

      it('--max-memory-per-child replaces a child that grew past the limit', async () => {
        // A child process starts near 60-90 MB resident; a thread's own heap near 10-20 MB.
        const limit = kind === 'threads' ? 100 : 200
        const { w, app } = start(kind, ['-c', '1', '--max-memory-per-child', String(limit)])
        await w.waitFor(/ready/)
        const small = await (await app.sendTask<Where>('hog', [1])).get({ timeout: 20_000 })
        const same = await (await app.sendTask<Where>('whoami')).get({ timeout: 20_000 })
        assert.equal(child(kind, same), child(kind, small), 'under the limit: kept')
        const big = await (await app.sendTask<Where>('hog', [limit + 50])).get({ timeout: 30_000 })
        assert.equal(child(kind, big), child(kind, small))
        const fresh = await (await app.sendTask<Where>('whoami')).get({ timeout: 20_000 })
        assert.notEqual(child(kind, fresh), child(kind, big), 'over the limit: replaced')
        await stop(w)
      })
    })
  }

  it('processes: a child SIGKILLed mid-task fails the task (no retries); the worker goes on', async () => {
    const { w, app, jfile } = start('processes', ['-c', '1'])
    await w.waitFor(/ready/)
    const sleeping = await app.sendTask('sleep', [30_000])
    await until(() => journal(jfile).some((l) => l.id === sleeping.id), 20_000, 'the task to start')
    // Journal lines of this fixture end in "<pid>:<thread id>".
    const line = readFileSync(jfile, 'utf8')
      .split('\n')
      .find((l) => l.includes(sleeping.id))!
    const pid = Number(line.split(' ')[2]!.split(':')[0])
    assert.notEqual(pid, w.child.pid)
    process.kill(pid, 'SIGKILL')
    await assert.rejects(sleeping.get({ timeout: 20_000 }), {
      name: 'WorkerLostError',
      message: /process killed by SIGKILL/,
    })
    const next = await (await app.sendTask<Where>('whoami')).get({ timeout: 20_000 })
    assert.notEqual(next.pid, pid)
    await stop(w)
  })

  it('threads on Redis: the hard limit kills the loop, the worker serves on', async () => {
    const { url, prefix } = withPrefix(REDIS_BASE, 'pool')
    try {
      const { w, app } = start('threads', ['-c', '2'], url)
      await w.waitFor(/ready/)
      const spins = await Promise.all([app.sendTask('spin'), app.sendTask('spin')])
      for (const s of spins)
        await assert.rejects(s.get({ timeout: 20_000 }), { name: 'TimeLimitExceededError' })
      const rs = await Promise.all(Array.from({ length: 4 }, () => app.sendTask<Where>('whoami')))
      for (const r of rs) assert.equal((await r.get({ timeout: 20_000 })).pid, w.child.pid)
      await stop(w)
    } finally {
      await deletePrefix(REDIS_BASE, prefix)
    }
  })
})
