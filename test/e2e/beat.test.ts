/**
 * Beat as real processes: three `celeriac beat` processes at once and a worker; the leader is
 * SIGKILLed mid-run. Every tick from the first fire to the last runs exactly once: not zero times
 * (no gap while a new leader takes over), not twice (one leader at a time, fenced, and each fire
 * published under the id of its tick). On SQLite, Redis and PostgreSQL, and on RabbitMQ with a
 * Redis result backend, where a tick sent twice is stored twice and the worker's run claims
 * (src/dedup) run one copy.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { amqpEngine } from '../support/amqp-engine.js'
import { postgresUrls, redisUrls, sqliteUrls, type EngineUrls } from '../support/engine-urls.js'
import { ROOT, run, tempDir, until, type Proc } from './helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/beat-tasks.ts')

interface Fired {
  readonly id: string
  readonly pid: number
}

/** The "beat fired" lines a beat process logged. */
function fired(p: Proc): Fired[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.includes('"beat fired"'))
    .map((l) => JSON.parse(l) as Fired)
}

function runs(journal: string): string[] {
  if (!existsSync(journal)) return []
  return readFileSync(journal, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0]!)
}

const tickOf = (id: string) => Date.parse(id.slice('beat:every-second:'.length))

interface Engine {
  readonly name: string
  /** Where a test's processes connect: a fresh place each call. */
  env(): Record<string, string>
  cleanup(): Promise<void>
}

const engines: Engine[] = [
  ...([sqliteUrls(), redisUrls(), postgresUrls()] as EngineUrls[]).map((u) => ({
    name: u.name,
    env: () => ({ CELERIAC_BROKER: u.url() }),
    cleanup: () => u.cleanup(),
  })),
  (() => {
    const made: ReturnType<typeof amqpEngine>[] = []
    return {
      name: 'amqp (results and coordination on redis)',
      env: () => {
        const e = amqpEngine('beat-amqp')
        made.push(e)
        return e.env
      },
      cleanup: async () => {
        for (const e of made.splice(0)) await e.cleanup()
      },
    }
  })(),
]

for (const engine of engines) {
  describe(`beat processes on ${engine.name}`, () => {
    after(() => engine.cleanup())

    it('three beats, the leader SIGKILLed: every tick runs exactly once', async () => {
      const journal = join(tempDir('celeriac-beat-'), 'journal')
      const env = { ...engine.env(), JOURNAL: journal }
      const worker = run(['-A', FIXTURE, 'worker', '--no-banner', '-c', '4'], env)
      const beats = [0, 1, 2].map(() => run(['-A', FIXTURE, 'beat'], env))
      try {
        await worker.waitFor(/ready/, 30_000)
        await Promise.all(beats.map((b) => b.waitFor(/beat ready/, 30_000)))
        await until(() => beats.some((b) => fired(b).length >= 3), 20_000, 'three fires')
        const leader = beats.find((b) => fired(b).length > 0)!
        leader.kill('SIGKILL')
        await leader.exited()
        const others = beats.filter((b) => b !== leader)
        await until(() => others.some((b) => fired(b).length >= 4), 20_000, 'a new leader firing')
        for (const b of others) b.kill('SIGTERM')
        assert.deepEqual(await Promise.all(others.map((b) => b.exited())), [0, 0])

        const all = beats.flatMap(fired)
        const ids = [...new Set(all.map((f) => f.id))]
        assert.ok(new Set(all.map((f) => f.pid)).size >= 2, 'the killed leader and a successor both fired')
        await until(() => new Set(runs(journal)).size >= ids.length, 20_000, 'the worker ran every fire')
        await new Promise((r) => setTimeout(r, 500)) // a second run of a tick would show by now

        const counts = new Map<string, number>()
        for (const id of runs(journal)) counts.set(id, (counts.get(id) ?? 0) + 1)
        assert.deepEqual([...counts.keys()].sort(), ids.sort(), 'what ran is what beat fired')
        for (const [id, n] of counts) assert.equal(n, 1, `${id} ran ${n} times`)
        const ticks = ids.map(tickOf).sort((a, b) => a - b)
        for (let i = 1; i < ticks.length; i++)
          assert.equal(
            ticks[i]! - ticks[i - 1]!,
            1000,
            `no tick missing after ${new Date(ticks[i - 1]!).toISOString()}`,
          )
        assert.ok(ticks.length >= 7, `${ticks.length} ticks`)
      } finally {
        for (const b of beats) b.kill('SIGKILL')
        worker.kill('SIGTERM')
        await worker.exited()
      }
    })
  })
}
