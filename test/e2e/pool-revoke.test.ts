/**
 * `celeriac revoke --terminate` against `celeriac worker --pool threads|processes`, on SQLite and
 * on Redis: a task that spins and ignores its signal is seen by `inspect active`, its thread or
 * process is killed, it ends REVOKED and is not retried, and the worker serves the next task
 * from a new child.
 */
import assert from 'node:assert/strict'
import { join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { cli, journal, ROOT, run, tempDir, until, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const POOL_FIXTURE = resolve(ROOT, 'test/fixtures/pool-tasks.ts')
type Where = { pid: number; threadId: number }

const engines = [
  { name: 'sqlite', url: () => ({ url: `sqlite://${join(tempDir('celeriac-pool-revoke-'), 'q.db')}` }) },
  { name: 'redis', url: () => withPrefix(REDIS_BASE, 'pool-revoke') },
]

for (const engine of engines)
  describe(`revoke --terminate on a pool, ${engine.name} (real processes)`, () => {
    const procs: Proc[] = []
    const apps: App[] = []
    const prefixes: string[] = []
    after(async () => {
      for (const p of procs) p.kill('SIGKILL')
      for (const a of apps) await a.close()
      for (const p of prefixes) await deletePrefix(REDIS_BASE, p)
    })

    for (const kind of ['threads', 'processes'])
      it(`${kind}: the spinning task's child is killed, it ends REVOKED, not retried; the worker serves on`, async () => {
        const { url, prefix } = engine.url() as { url: string; prefix?: string }
        if (prefix) prefixes.push(prefix)
        const jfile = join(tempDir('celeriac-pool-revoke-'), 'journal.log')
        const env = { CELERIAC_BROKER: url, JOURNAL: jfile }
        const w = run(
          ['-A', POOL_FIXTURE, 'worker', '--no-banner', '-n', `w-${kind}`, '--pool', kind, '-c', '1'],
          env,
        )
        procs.push(w)
        const app = createApp({ broker: url })
        apps.push(app)
        await w.waitFor(/ready/)
        const before = await (await app.sendTask<Where>('whoami')).get({ timeout: 20_000 })

        const spin = await app.sendTask('spin.forever')
        await until(() => journal(jfile).some((l) => l.id === spin.id), 20_000, 'the spin to start')
        const active = await cli(
          ['-A', POOL_FIXTURE, 'inspect', 'active', '--json', '--timeout', '3000'],
          env,
        )
        assert.equal(active.code, 0, active.out)
        const listed = JSON.parse(active.out.trim().split('\n').pop()!) as Record<string, { id: string }[]>
        assert.deepEqual(
          listed[`w-${kind}`]!.map((a) => a.id),
          [spin.id],
          'inspect active lists a run of the pool',
        )
        const next = await app.sendTask<Where>('whoami')

        const r = await cli(['-A', POOL_FIXTURE, 'revoke', '--terminate', spin.id], env)
        assert.equal(r.code, 0, r.out)
        await assert.rejects(spin.get({ timeout: 20_000 }), { name: 'TaskRevokedError' })
        assert.equal(await spin.state(), 'REVOKED')
        const after = await next.get({ timeout: 20_000 })
        const child = (at: Where) => (kind === 'threads' ? at.threadId : at.pid)
        assert.notEqual(child(after), child(before), 'the spinning child was replaced')
        if (kind === 'threads') assert.equal(after.pid, w.child.pid)
        // A retry would journal a second start; give one a moment to show up.
        await new Promise((res) => setTimeout(res, 500))
        assert.equal(journal(jfile).filter((l) => l.id === spin.id).length, 1, 'not retried')
        assert.equal(await spin.state(), 'REVOKED')
        w.kill('SIGTERM')
        assert.equal(await w.exited(), 0, w.output())
      })
  })
