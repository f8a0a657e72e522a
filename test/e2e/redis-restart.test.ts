/**
 * Redis restarted under load: a private redis-server with an append-only file fsynced on every
 * write, a producer and two worker processes. The server is stopped (SIGTERM) while jobs flow and
 * started again on the same directory, so it reloads its AOF. Every job must complete; none may be
 * lost.
 *
 * The rule for duplicates: a job may run more than once only if
 *  - a worker held it while the server was away, i.e. its first 'start' line was written before the
 *    server was back (the worker could not acknowledge it; its lease may have expired meanwhile), or
 *  - its publish was ambiguous: the command was sent but the reply was lost with the connection, so
 *    the producer could not know whether it was stored and sent it again (same ids, so it shows up
 *    as a second run of the same id).
 */
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { BrokerError, createApp } from 'celeriac'
import { journal, tempDir, until, type Proc } from './helpers.js'
import { freePort, RedisServer, redisWorker } from './redis-helpers.js'

const JOBS = 5000
const BATCH = 50
/** Long enough that the workers are busy (about 20 jobs running or buffered each) when Redis goes. */
const TASK_MS = 20
/** Publishes every PACE_MS: ~1,000 jobs/s, so the run lasts ~5 s and the outage hits mid-flow. */
const PACE_MS = 50
// The outage outlasts the lease, so jobs held across it are redelivered: the harder case.
const OUTAGE_MS = 3000
const WORKER_ARGS = ['-c', '10', '--lease', '2s']

/** While disconnected the client refuses a command at once: it never reached the server. */
function neverSent(err: unknown): boolean {
  return /the command was not sent/.test((err as Error).message)
}

describe('Redis restarted while jobs flow', () => {
  const dir = tempDir('celeriac-redis-aof-')
  const procs: Proc[] = []
  let server: RedisServer | null = null
  const app = { close: async () => {} }
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await app.close()
    await server?.stop('SIGKILL')
  })

  it('every job completes; duplicates only for jobs held during the outage', async (t) => {
    server = new RedisServer(await freePort(), dir)
    await server.start()
    const url = server.url
    const producer = createApp({ broker: url })
    app.close = () => producer.close()
    const sleepy = producer.task('sleepy', (_ctx, _ms: number) => 0)
    const jfile = join(dir, 'journal.log')
    for (let i = 0; i < 2; i++) procs.push(redisWorker(url, WORKER_ARGS, { JOURNAL: jfile }))
    await Promise.all(procs.map((p) => p.waitFor(/ready/)))

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
          } catch (err) {
            assert.ok(err instanceof BrokerError, `publish rejects with BrokerError: ${String(err)}`)
            publishErrors++
            if (!neverSent(err)) for (const j of batch) ambiguous.add(j.options.id)
            await new Promise((r) => setTimeout(r, 100))
          }
        }
        for (const j of batch) ids.push(j.options.id)
        await new Promise((r) => setTimeout(r, PACE_MS))
      }
    })()

    await until(() => ids.length >= JOBS / 4, 20_000, 'a quarter of the jobs published')
    const size = () => statSync(jfile, { throwIfNoEntry: false })?.size ?? 0
    await server.stop('SIGTERM')
    const downAt = Date.now()
    await new Promise((r) => setTimeout(r, OUTAGE_MS))
    await server.start()
    const backAt = Date.now()
    const journalBack = size() // bytes of journal written before the server was back
    t.diagnostic(`server away ${backAt - downAt} ms`)

    await produce
    const doneIds = () => new Set(journal(jfile).flatMap((l) => (l.event === 'done' ? [l.id] : [])))
    await until(() => doneIds().size >= JOBS, 60_000, `${JOBS} jobs done`)

    const records = await (await producer.resultStore())!.get(ids)
    assert.equal(records.filter((r) => r?.state !== 'SUCCESS').length, 0, 'every job has a SUCCESS result')

    // Which ids had a 'start' line written before the server came back.
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
    t.diagnostic(
      `${publishErrors} publish attempts failed (${ambiguous.size / BATCH} batches ambiguous); ${twice} jobs ran twice`,
    )

    const [st] = await (await producer.broker()).stats(['default'])
    assert.deepEqual([st!.waiting, st!.delayed, st!.active, st!.dead], [0, 0, 0, 0], 'the queue is empty')

    for (const w of procs) {
      const lines = logLines(w)
      const count = (re: RegExp) => lines.filter((l) => re.test(l.msg)).length
      assert.equal(
        count(/^reserving from the broker failed/),
        1,
        `the worker logs the outage once:\n${w.output()}`,
      )
      assert.equal(count(/^reserving from the broker works again/), 1)
      // Settling and heartbeats may or may not have been hit by the outage; at most one line each.
      assert.ok(count(/^settling finished tasks failed/) <= 1, w.output())
      assert.ok(count(/^extending leases failed/) <= 1, w.output())
      // Leases do expire during an outage longer than the lease: those warnings are true ones.
      const others = lines.filter((l) => l.level >= 40 && !/failed; retrying with backoff$/.test(l.msg))
      const counts = new Map<string, number>()
      for (const l of others) counts.set(l.msg, (counts.get(l.msg) ?? 0) + 1)
      t.diagnostic(`worker ${w.child.pid}: other warnings/errors: ${JSON.stringify([...counts])}`)
      w.kill('SIGTERM')
      assert.equal(await w.exited(), 0)
    }
  })
})

function logLines(p: Proc): { level: number; msg: string }[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
}
