/**
 * Poison-input conformance: whatever lands in a queue, a worker keeps running, every valid job
 * succeeds, and every bad entry ends in the dead-letter store with a reason.
 *
 * Each engine gives a writer that puts entries straight into its own storage (bypassing the
 * producer's checks), and may add shapes only its storage can hold (a Redis list entry without
 * framing, say). The suite mixes those with valid jobs in one write, runs a real in-process Worker
 * on the engine, and checks the outcome of every entry.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import type { DeadJob } from '../../src/contracts/broker.js'
import type { App, AppOptions } from '../../src/core/app.js'
import { encodeMessage } from '../../src/core/message.js'
import { Worker } from '../../src/worker/index.js'
import { createLogger } from '../../src/worker/logger.js'

/** A job as the engine frames it: an id beside a body (bytes: possibly not UTF-8). */
export interface RawJob {
  readonly id: string
  readonly body: string | Uint8Array
  readonly priority?: number
  /** Written as a delayed job due this many ms from now. */
  readonly delayMs?: number
}

/** A shape only this engine's storage can hold; `raw` is handed back to its writer untouched. */
export interface EngineCase {
  readonly name: string
  readonly raw: unknown
  /** Recognises this case's entry in the dead-letter store. */
  readonly matches: (dead: DeadJob) => boolean
  readonly reason?: RegExp
}

export type RawWrite = RawJob | { readonly raw: unknown }

export interface PoisonConformanceOptions {
  readonly name: string
  /** A fresh app on the engine (broker and result store), with these options added. */
  app(options: AppOptions): App
  /** Writes the entries into the queue's storage, in this order, as one batch where it can. */
  writeRaw(queue: string, entries: readonly RawWrite[]): Promise<void>
  readonly engineCases?: readonly EngineCase[]
  /**
   * What a second entry with a live job's id becomes: 'dead' (the engine stores it and
   * dead-letters it when it is taken), 'skipped' (the engine refuses to store it) or 'runs' (an
   * engine without idempotent publish stores it and it runs too: at least once, RabbitMQ).
   */
  readonly duplicateIds: 'dead' | 'skipped' | 'runs'
}

interface BodyCase {
  readonly name: string
  readonly job: RawJob
  readonly reason: RegExp
}

const LIMIT = 64 * 1024
const silent = createLogger({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export function poisonConformance(o: PoisonConformanceOptions): void {
  describe(`poison-input conformance: ${o.name}`, () => {
    const app = o.app({ maxMessageBytes: LIMIT })
    let ran = 0
    app.task('poison.add', (_ctx, a: number, b: number) => (ran++, a + b))
    app.task('poison.slow', async (_ctx, ms: number) => (ran++, await sleep(ms), 'slow'))
    const workers: Worker[] = []
    after(async () => {
      await Promise.all(workers.map((w) => w.stop({ grace: 1000 })))
      await app.close()
    })

    const envelope = (queue: string, id: string, task: string, args: unknown[], extra = {}) =>
      encodeMessage({ ...app.buildMessage(task, args, { queue, id }).message, ...extra }, 1 << 30)
    const start = async (queue: string) => {
      const w = new Worker(app, { queues: [queue], concurrency: 4, prefetch: 12, logger: silent })
      workers.push(w)
      await w.start()
      return w
    }

    /** Waits until every id has a ready result and the queue holds `dead` dead entries. */
    async function settle(queue: string, ids: readonly string[], dead: number) {
      const store = (await app.resultStore())!
      const broker = await app.broker()
      const until = Date.now() + 20_000
      for (;;) {
        const records = await store.get(ids)
        const listed = await broker.listDead({ queue, limit: 1000 })
        const done = records.every((r) => r?.state === 'SUCCESS')
        if ((done && listed.length >= dead) || Date.now() > until) {
          const pending = ids.filter((_, i) => records[i]?.state !== 'SUCCESS')
          assert.deepEqual(pending, [], `valid jobs not SUCCESS: ${pending.length} of ${ids.length}`)
          return listed
        }
        await sleep(25)
      }
    }

    it('runs every valid job and dead-letters every bad entry with a reason, mixed in one batch', async () => {
      const queue = `poison-${randomUUID().slice(0, 8)}`
      const worker = await start(queue)
      const valid: RawJob[] = Array.from({ length: 20 }, (_, i) => {
        const id = randomUUID()
        return {
          id,
          body: envelope(queue, id, 'poison.add', [i, 1]),
          priority: i % 10,
          ...(i % 5 === 4 ? { delayMs: 30 } : {}),
        }
      })
      const cases = bodyCases(queue, envelope)
      const slowId = randomUUID()
      const slow: RawJob = { id: slowId, body: envelope(queue, slowId, 'poison.slow', [400]) }
      const copy: RawJob = { id: slowId, body: envelope(queue, slowId, 'poison.add', [0, 0]) }
      const engine = o.engineCases ?? []
      const writes: RawWrite[] = [slow, copy]
      const bad = [...cases.map((c) => c.job), ...engine.map((c) => ({ raw: c.raw }))]
      // Bad entries between valid ones (each written once), the rest at the end.
      for (let i = 0; i < Math.max(bad.length, valid.length); i++) {
        const v = valid[i]
        const b = bad[i]
        if (v) writes.push(v)
        if (b) writes.push(b)
      }
      const ranBefore = ran
      await o.writeRaw(queue, writes)

      const expectDead = cases.length + engine.length + (o.duplicateIds === 'dead' ? 1 : 0)
      const dead = await settle(queue, [...valid.map((v) => v.id), slowId], expectDead)
      const copies = o.duplicateIds === 'runs' ? 1 : 0
      assert.equal(ran - ranBefore, valid.length + 1 + copies, 'each valid job ran once')
      const claimed = new Set<DeadJob>()
      const claim = (name: string, find: (d: DeadJob) => boolean, reason?: RegExp) => {
        const d = dead.find((x) => !claimed.has(x) && find(x))
        assert.ok(d, `${name}: no dead entry (dead: ${dead.map((x) => x.reason).join(' | ')})`)
        claimed.add(d)
        assert.ok(d.reason.trim().length > 0, `${name}: empty reason`)
        if (reason) assert.match(d.reason, reason, name)
      }
      for (const c of cases) claim(c.name, (d) => d.id === c.job.id, c.reason)
      for (const c of engine) claim(c.name, c.matches, c.reason)
      if (o.duplicateIds === 'dead')
        claim(
          'duplicate id',
          // The engine may keep the raw entry (its framing and the body).
          (d) => d.body.endsWith(copy.body as string),
          /duplicate/i,
        )
      assert.equal(dead.length, claimed.size, 'no other entry was dead-lettered')

      // The queue keeps flowing and the worker keeps running.
      const after = await app.sendTask<number>('poison.add', [20, 22], { queue })
      assert.equal(await after.get({ timeout: 5000 }), 42)
      assert.equal(worker.stats.stale, 0, 'no settle hit a lost lease')
    })

    it('keeps flowing when only bad entries arrive, then valid ones', async () => {
      const queue = `poison-${randomUUID().slice(0, 8)}`
      await start(queue)
      const cases = bodyCases(queue, envelope)
      const engine = o.engineCases ?? []
      await o.writeRaw(queue, [...cases.map((c) => c.job), ...engine.map((c) => ({ raw: c.raw }))])
      await settle(queue, [], cases.length + engine.length)
      const ids = Array.from({ length: 5 }, () => randomUUID())
      await o.writeRaw(
        queue,
        ids.map((id, i) => ({ id, body: envelope(queue, id, 'poison.add', [i, i]) })),
      )
      await settle(queue, ids, cases.length + engine.length)
    })
  })
}

/** Bodies every engine must refuse through its worker: the same on every broker. */
function bodyCases(
  queue: string,
  envelope: (queue: string, id: string, task: string, args: unknown[], extra?: object) => string,
): BodyCase[] {
  const id = () => randomUUID()
  const c = (name: string, reason: RegExp, make: (id: string) => string | Uint8Array, delayMs?: number) => {
    const i = id()
    return { name, reason, job: { id: i, body: make(i), ...(delayMs ? { delayMs } : {}) } }
  }
  const cut = (s: string) => {
    // A valid envelope cut inside a multi-byte character: truncated UTF-8 and truncated JSON.
    const bytes = Buffer.from(s)
    const at = bytes.indexOf(Buffer.from('é')) + 1
    return new Uint8Array(bytes.subarray(0, at))
  }
  return [
    c('body not JSON', /not valid JSON/, () => 'this is not JSON at all'),
    c('empty body', /not valid JSON/, () => ''),
    c('JSON array', /not a JSON object/, () => '[1,2,3]'),
    c('JSON null', /not a JSON object/, () => 'null'),
    c('JSON that is not an envelope', /./, () => '{"hello":"world"}'),
    c('envelope with args not an array', /args/, (i) =>
      envelope(queue, i, 'poison.add', []).replace('"queue"', '"args":{},"queue"'),
    ),
    c('unknown task', /poison\.nope/, (i) => envelope(queue, i, 'poison.nope', [1])),
    c('body over the size limit', /larger than this worker's limit/, (i) =>
      envelope(queue, i, 'poison.add', ['x'.repeat(LIMIT + 10), 1]),
    ),
    c('id differs from the framing', /broker holds it as/, () => envelope(queue, id(), 'poison.add', [1, 2])),
    c('truncated UTF-8', /not valid JSON/, (i) => cut(envelope(queue, i, 'poison.add', ['café au lait', 1]))),
    c('body not JSON, delayed', /not valid JSON/, () => '}{', 20),
    c('unknown task, delayed', /poison\.nope/, (i) => envelope(queue, i, 'poison.nope', []), 20),
  ]
}
