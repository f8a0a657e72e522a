/**
 * More remote control against live `celeriac worker` processes, on SQLite and on PostgreSQL:
 * `inspect reserved` lists what a worker holds beyond its running tasks, `control pool-shrink`
 * lowers how many run at once, `revoke` ends running ones, and `control cancel-consumer` /
 * `add-consumer` stop and resume consuming a queue.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { postgresUrls, type EngineUrls } from '../support/engine-urls.js'
import { cli, journal, ROOT, run, tempDir, until, type Proc } from './helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/control-tasks.ts')

const engines: { name: string; url(): string; cleanup(): Promise<void> }[] = [
  { name: 'sqlite', url: () => `sqlite://${join(tempDir(), 'queue.db')}`, cleanup: async () => {} },
  ((pg: EngineUrls) => ({ name: 'postgres', url: () => pg.url(), cleanup: () => pg.cleanup() }))(
    postgresUrls(),
  ),
]

for (const engine of engines)
  describe(`inspect reserved, pool-shrink, cancel-consumer and revoke on ${engine.name} (real processes)`, () => {
    const procs: Proc[] = []
    const apps: App[] = []
    after(async () => {
      for (const p of procs) p.kill('SIGKILL')
      for (const a of apps) await a.close()
      await engine.cleanup()
    })

    function setup(name: string, args: string[]) {
      const url = engine.url()
      const app = createApp({ broker: url })
      apps.push(app)
      const jfile = join(tempDir(), 'journal.log')
      const env = { CELERIAC_BROKER: url, JOURNAL: jfile }
      const w = run(
        ['-A', FIXTURE, 'worker', '--no-banner', '--heartbeat', '300ms', '-n', name, ...args],
        env,
      )
      procs.push(w)
      const json = async (cmd: string[]) => {
        const r = await cli(['-A', FIXTURE, ...cmd, '-d', name, '--json', '--timeout', '3000'], env)
        assert.equal(r.code, 0, r.out)
        return (JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, unknown>)[name]
      }
      const started = () => journal(jfile).filter((l) => l.event === 'start')
      return { app, w, json, started, env }
    }

    it('inspect reserved lists the held tasks; pool-shrink runs fewer at once; revoke ends the running ones', async () => {
      const { app, w, json, started, env } = setup('shrinker', ['-c', '2', '--prefetch', '4'])
      await w.waitFor(/ready/)
      assert.equal(await json(['inspect', 'ping']), 'pong')
      const long = [await app.sendTask('waits', [60_000]), await app.sendTask('waits', [60_000])]
      await until(() => started().length === 2, 15_000, 'both slots busy')
      const adds = [
        await app.sendTask('add', [1, 1]),
        await app.sendTask('add', [2, 2]),
        await app.sendTask('add', [3, 3]),
      ]
      await until(
        async () => ((await json(['inspect', 'reserved'])) as unknown[]).length === 3,
        15_000,
        'three reserved',
      )
      const reserved = (await json(['inspect', 'reserved'])) as { id: string; task: string; queue: string }[]
      assert.deepEqual(reserved.map((r) => r.id).sort(), adds.map((a) => a.id).sort())
      assert.deepEqual(new Set(reserved.map((r) => `${r.task}@${r.queue}`)), new Set(['add@default']))

      assert.deepEqual(await json(['control', 'pool-shrink', '1']), { concurrency: 1 })
      assert.equal(((await json(['inspect', 'stats'])) as { concurrency: number }).concurrency, 1)
      const r = await cli(['-A', FIXTURE, 'revoke', ...long.map((l) => l.id)], env)
      assert.equal(r.code, 0, r.out)
      for (const l of long) await assert.rejects(l.get({ timeout: 15_000 }), { name: 'TaskRevokedError' })
      for (const [i, a] of adds.entries()) assert.equal(await a.get({ timeout: 15_000 }), 2 * (i + 1))

      // One slot now: of two long tasks, one runs and the other waits in the reserved list.
      const more = [await app.sendTask('waits', [60_000]), await app.sendTask('waits', [60_000])]
      await until(() => started().length === 3, 15_000, 'one more start')
      await until(
        async () => ((await json(['inspect', 'reserved'])) as unknown[]).length === 1,
        15_000,
        'the other reserved',
      )
      await new Promise((res) => setTimeout(res, 500))
      assert.equal(started().length, 3, 'the second did not start')
      assert.equal(((await json(['inspect', 'active'])) as unknown[]).length, 1)
      const t = await cli(['-A', FIXTURE, 'revoke', '--terminate', ...more.map((m) => m.id)], env)
      assert.equal(t.code, 0, t.out)
      for (const m of more) await assert.rejects(m.get({ timeout: 15_000 }), { name: 'TaskRevokedError' })
      assert.equal(started().length, 3, 'the reserved one was revoked before it started')
      w.kill('SIGTERM')
      assert.equal(await w.exited(), 0, w.output())
    })

    it('cancel-consumer stops consuming a queue, add-consumer resumes it', async () => {
      const { app, w, json, env } = setup('consumer', ['-c', '2', '-Q', 'qa,qb'])
      await w.waitFor(/ready/)
      assert.deepEqual(await json(['control', 'cancel-consumer', 'qb']), { queues: ['qa'] })
      assert.deepEqual(((await json(['inspect', 'stats'])) as { queues: string[] }).queues, ['qa'])
      const onB = await app.sendTask<number>('add', [1, 2], { queue: 'qb' })
      const onA = await app.sendTask<number>('add', [3, 4], { queue: 'qa' })
      assert.equal(await onA.get({ timeout: 15_000 }), 7)
      await new Promise((res) => setTimeout(res, 1000))
      assert.equal(await onB.state(), 'PENDING', 'qb is not consumed')
      const only = await cli(
        ['-A', FIXTURE, 'control', 'cancel-consumer', 'qa', '-d', 'consumer', '--timeout', '3000'],
        env,
      )
      assert.match(only.out, /only queue/)
      assert.deepEqual(await json(['control', 'add-consumer', 'qb']), { queues: ['qa', 'qb'] })
      assert.equal(await onB.get({ timeout: 15_000 }), 3)
      w.kill('SIGTERM')
      assert.equal(await w.exited(), 0, w.output())
    })
  })
