/**
 * Revoke and remote control across real processes, on SQLite, on Redis, and on RabbitMQ with
 * results and coordination on Redis: `celeriac worker`
 * processes of test/fixtures/control-tasks.ts, and the `celeriac revoke|inspect|control|workers`
 * commands run as a user would.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { amqpEngine, type AmqpEngine } from '../support/amqp-engine.js'
import { cli, journal, run, tempDir, until, ROOT, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/control-tasks.ts')

interface Engine {
  readonly name: string
  /** A broker URL no other test uses, and a result backend of its own when the broker has none. */
  url(): string | { broker: string; results: string }
  cleanup(): Promise<void>
}

const engines: Engine[] = [
  { name: 'sqlite', url: () => `sqlite://${join(tempDir(), 'queue.db')}`, cleanup: async () => {} },
  (() => {
    const prefixes: string[] = []
    return {
      name: 'redis',
      url: () => {
        const { url, prefix } = withPrefix(REDIS_BASE, 'control')
        prefixes.push(prefix)
        return url
      },
      cleanup: async () => {
        for (const p of prefixes) await deletePrefix(REDIS_BASE, p)
      },
    }
  })(),
  (() => {
    const made: AmqpEngine[] = []
    return {
      name: 'amqp (results and coordination on redis)',
      url: () => {
        const e = amqpEngine('control-amqp')
        made.push(e)
        return { broker: e.broker, results: e.results }
      },
      cleanup: async () => {
        for (const e of made.splice(0)) await e.cleanup()
      },
    }
  })(),
]

for (const engine of engines) {
  describe(`revoke and remote control on ${engine.name} (real processes)`, () => {
    const procs: Proc[] = []
    const apps: App[] = []
    after(async () => {
      for (const p of procs) p.kill('SIGKILL')
      for (const a of apps) await a.close()
      await engine.cleanup()
    })
    function setup() {
      const got = engine.url()
      const { broker, results } = typeof got === 'string' ? { broker: got, results: undefined } : got
      const app = createApp({ broker, ...(results ? { resultBackend: results } : {}) })
      apps.push(app)
      const jfile = join(tempDir(), 'journal.log')
      const env = {
        CELERIAC_BROKER: broker,
        ...(results ? { CELERIAC_RESULT_BACKEND: results } : {}),
        JOURNAL: jfile,
      }
      const worker = (args: string[]) => {
        const p = run(['-A', FIXTURE, 'worker', '--no-banner', '--heartbeat', '300ms', ...args], env)
        procs.push(p)
        return p
      }
      const command = (args: string[]) => cli(['-A', FIXTURE, ...args], env)
      return { app, jfile, worker, command }
    }

    it('a task revoked before any worker runs is never run, after a worker restart too', async () => {
      const { app, jfile, worker, command } = setup()
      const early = await app.sendTask('waits', [10])
      const r = await command(['revoke', early.id])
      assert.equal(r.code, 0, r.out)
      const w1 = worker(['-n', 'w1', '-c', '2'])
      await assert.rejects(early.get({ timeout: 15_000 }), { name: 'TaskRevokedError' })
      assert.equal(await early.state(), 'REVOKED')
      // Revoked while a worker runs, due later: the next worker, started after a restart, has
      // only the stored revocation to go by.
      const later = await app.sendTask('waits', [10], { countdown: '2s' })
      await app.revoke([later.id])
      w1.kill('SIGTERM')
      assert.equal(await w1.exited(), 0)
      worker(['-n', 'w2', '-c', '2'])
      await assert.rejects(later.get({ timeout: 15_000 }), { name: 'TaskRevokedError' })
      const ok = await app.sendTask<number>('add', [1, 2])
      assert.equal(await ok.get({ timeout: 15_000 }), 3)
      assert.deepEqual(
        journal(jfile).filter((l) => l.id === early.id || l.id === later.id),
        [],
        'neither revoked task ever started',
      )
    })

    it('a running task is aborted and ends REVOKED, not retried; terminate frees the slot of one that ignores its signal', async () => {
      const { app, jfile, worker, command } = setup()
      worker(['-n', 'w1', '-c', '1', '--prefetch', '0'])
      const long = await app.sendTask('waits', [60_000])
      await until(() => journal(jfile).some((l) => l.id === long.id && l.event === 'start'), 15_000, 'start')
      assert.equal((await command(['revoke', long.id])).code, 0)
      await assert.rejects(long.get({ timeout: 15_000 }), { name: 'TaskRevokedError' })
      assert.equal(await long.state(), 'REVOKED')
      const runs = journal(jfile).filter((l) => l.id === long.id)
      assert.deepEqual(
        runs.map((l) => l.event),
        ['start', 'aborted'],
        'its signal was aborted, and it was not retried',
      )

      const stuck = await app.sendTask('stubborn')
      const next = await app.sendTask<number>('add', [2, 2])
      await until(() => journal(jfile).some((l) => l.id === stuck.id && l.event === 'start'), 15_000, 'start')
      assert.equal((await command(['revoke', '--terminate', stuck.id])).code, 0)
      await assert.rejects(stuck.get({ timeout: 15_000 }), { name: 'TaskRevokedError' })
      assert.equal(await next.get({ timeout: 15_000 }), 4, 'the only slot was freed')
    })

    it('inspect and control against two live workers; a SIGKILLed worker shows offline within three heartbeats', async () => {
      const { app, jfile, worker, command } = setup()
      const w1 = worker(['-n', 'alpha', '-c', '2'])
      const w2 = worker(['-n', 'beta', '-c', '2'])
      await w1.waitFor(/ready/)
      await w2.waitFor(/ready/)
      const json = async (args: string[]) => {
        const r = await command([...args, '--json', '--timeout', '3000'])
        assert.equal(r.code, 0, r.out)
        return JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, unknown>
      }
      const both = ['-d', 'alpha,beta']
      assert.deepEqual(await json(['inspect', 'ping', ...both]), { alpha: 'pong', beta: 'pong' })
      assert.deepEqual(await json(['inspect', 'registered', '-d', 'alpha']), {
        alpha: ['add', 'stubborn', 'waits'],
      })
      const long = await app.sendTask('waits', [60_000])
      await until(() => journal(jfile).some((l) => l.id === long.id && l.event === 'start'), 15_000, 'start')
      const active = (await json(['inspect', 'active', ...both])) as Record<string, { id: string }[]>
      assert.deepEqual(
        Object.values(active)
          .flat()
          .map((a) => a.id),
        [long.id],
        'exactly one worker runs it',
      )
      const stats = (await json(['inspect', 'stats', ...both])) as Record<
        string,
        { pid: number; concurrency: number }
      >
      assert.equal(stats.alpha!.pid, w1.child.pid)
      assert.equal(stats.beta!.concurrency, 2)
      assert.deepEqual(await json(['control', 'pool-grow', '3', '-d', 'beta']), { beta: { concurrency: 5 } })
      const human = await command(['inspect', 'ping', '-d', 'alpha', '--timeout', '3000'])
      assert.match(human.out, /-> alpha: OK\n\s+pong/)

      assert.deepEqual(await json(['control', 'shutdown', '-d', 'alpha']), { alpha: 'shutting down' })
      await app.revoke([long.id])
      assert.equal(await w1.exited(), 0, 'alpha stopped cleanly')
      const list = async () =>
        JSON.parse((await command(['workers', '--json'])).out.trim()) as {
          name: string
          online: boolean
          concurrency: number
        }[]
      const afterShutdown = await list()
      assert.equal(
        afterShutdown.find((w) => w.name === 'alpha')?.online,
        false,
        'a clean stop shows offline at once',
      )
      const beta = afterShutdown.find((w) => w.name === 'beta')
      assert.equal(beta?.online, true)
      assert.equal(beta?.concurrency, 5)

      w2.kill('SIGKILL')
      const killedAt = Date.now()
      await until(
        async () => (await list()).find((w) => w.name === 'beta')?.online === false,
        10_000,
        'beta offline',
      )
      // Three heartbeats of 300 ms, plus the time the listing takes; a generous bound.
      assert.ok(Date.now() - killedAt < 5000, `offline after ${Date.now() - killedAt} ms`)
      const none = await command(['inspect', 'ping', '--timeout', '500'])
      assert.equal(none.code, 1)
      assert.match(none.out, /no worker replied within 500 ms/)
    })
  })
}
