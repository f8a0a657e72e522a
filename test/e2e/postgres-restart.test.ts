/**
 * PostgreSQL restarted under load: a private server (see postgres-server.ts; the shared one is
 * never touched), a producer and two worker processes. The server is stopped in fast mode, as
 * `pg_ctlcluster <version> main restart` does, while jobs flow; it stays down longer than the
 * lease, then starts again. Every enqueue the producer saw acknowledged must complete; the
 * workers must reconnect by themselves (the pool and the LISTEN connection) and finish all jobs.
 *
 * The rule for duplicates, as for Redis: a job may run more than once only if a worker held it
 * while the server was away (its first 'start' line was written before the server was back), or
 * its publish failed ambiguously (the producer sent the batch again under the same ids; a job
 * acknowledged and deleted in between can then run again).
 */
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp } from 'celeriac'
import { FIXTURE, journal, run, tempDir, until, type Proc } from './helpers.js'
import { postgresBinaries, PostgresServer } from './postgres-server.js'

const JOBS = 4000
const BATCH = 50
/** Long enough that the workers are busy when the server goes. */
const TASK_MS = 20
/** Publishes every PACE_MS: ~800 jobs/s offered, so the outage hits mid-flow. */
const PACE_MS = 60
// Longer than the lease, so jobs held across it are redelivered: the harder case.
const OUTAGE_MS = 3000
const WORKER_ARGS = ['-c', '10', '--lease', '2s']

const binaries = postgresBinaries()

describe('PostgreSQL restarted while jobs flow', () => {
  const procs: Proc[] = []
  let server: PostgresServer | null = null
  const app = { close: async () => {} }
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited()))
    await app.close()
    await server?.destroy()
  })

  const skip = 'missing' in binaries ? binaries.missing : false
  it(
    'every acknowledged job completes; workers resume by themselves',
    { skip, timeout: 150_000 },
    async (t) => {
      server = await PostgresServer.create((binaries as { bin: string }).bin)
      const url = `${server.url}?pool=4`
      const producer = createApp({ broker: url })
      app.close = () => producer.close()
      const sleepy = producer.task('sleepy', (_ctx, _ms: number) => 0)
      await producer.broker() // the schema exists before the workers race to create it
      const jfile = join(tempDir(), 'journal.log')
      for (let i = 0; i < 2; i++)
        procs.push(
          run(['-A', FIXTURE, 'worker', '--no-banner', ...WORKER_ARGS], {
            CELERIAC_BROKER: url,
            JOURNAL: jfile,
          }),
        )
      await Promise.all(procs.map((p) => p.waitFor(/ready/, 60_000)))

      const ids: string[] = []
      const ambiguous = new Set<string>()
      let publishErrors = 0
      const produce = (async () => {
        for (let b = 0; b < JOBS / BATCH; b++) {
          const batch = Array.from({ length: BATCH }, () => ({
            args: [TASK_MS] as [number],
            options: { id: crypto.randomUUID() },
          }))
          for (;;) {
            try {
              await sleepy.sendMany(batch)
              break
            } catch {
              // Whether it reached the server is unknown: the same ids are sent again.
              publishErrors++
              for (const j of batch) ambiguous.add(j.options.id)
              await new Promise((r) => setTimeout(r, 100))
            }
          }
          for (const j of batch) ids.push(j.options.id)
          await new Promise((r) => setTimeout(r, PACE_MS))
        }
      })()

      await until(() => ids.length >= JOBS / 4, 30_000, 'a quarter of the jobs published')
      const size = () => statSync(jfile, { throwIfNoEntry: false })?.size ?? 0
      const doneBefore = new Set(journal(jfile).flatMap((l) => (l.event === 'done' ? [l.id] : []))).size
      await server.stop('fast')
      const downAt = Date.now()
      await new Promise((r) => setTimeout(r, OUTAGE_MS))
      await server.start()
      const backAt = Date.now()
      const journalBack = size()
      t.diagnostic(`server away ${backAt - downAt} ms; ${doneBefore} jobs done before it went`)

      await produce
      const doneIds = () => new Set(journal(jfile).flatMap((l) => (l.event === 'done' ? [l.id] : [])))
      await until(
        async () => {
          await new Promise((r) => setTimeout(r, 200))
          return doneIds().size >= JOBS
        },
        90_000,
        `${JOBS} jobs done`,
      )

      const store = (await producer.resultStore())!
      let notOk = -1
      await until(
        async () => (notOk = (await store.get(ids)).filter((r) => r?.state !== 'SUCCESS').length) === 0,
        10_000,
        'every result SUCCESS',
      ).catch(() => {})
      assert.equal(notOk, 0, 'every job has a SUCCESS result')

      const heldDuringOutage = new Set<string>()
      let offset = 0
      const perId = new Map<string, { start: number; done: number }>()
      for (const l of journal(jfile)) {
        const e = perId.get(l.id) ?? { start: 0, done: 0 }
        perId.set(l.id, e)
        if (l.event === 'start') {
          e.start++
          if (offset < journalBack) heldDuringOutage.add(l.id)
        } else if (l.event === 'done') e.done++
        offset += `${l.event} ${l.id} ${l.pid}\n`.length
      }
      let twice = 0
      for (const id of ids) {
        const e = perId.get(id)
        assert.ok(e && e.done >= 1, `job ${id} ran to the end`)
        if (e.start > 1 || e.done > 1) {
          twice++
          assert.ok(
            heldDuringOutage.has(id) || ambiguous.has(id),
            `job ${id} ran ${e.start} times but was neither held during the outage nor published ambiguously`,
          )
        }
      }
      t.diagnostic(`${publishErrors} publish attempts failed; ${twice} jobs ran twice`)

      const broker = await producer.broker()
      await until(
        async () => {
          const [st] = await broker.stats(['default'])
          return st!.waiting + st!.delayed + st!.active === 0
        },
        15_000,
        'queue empty',
      )
      const [st] = await broker.stats(['default'])
      assert.deepEqual([st!.waiting, st!.delayed, st!.active, st!.dead], [0, 0, 0, 0], 'the queue is empty')

      for (const w of procs) {
        const lines = w
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level: number; msg: string })
        assert.ok(
          lines.some((l) => /^reserving from the broker works again/.test(l.msg)),
          `the worker says it reserves again:\n${w.output()}`,
        )
        w.kill('SIGTERM')
        assert.equal(await w.exited(), 0, w.output())
      }
    },
  )
})
