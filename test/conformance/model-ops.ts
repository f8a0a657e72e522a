/**
 * The operations of the model test (model.ts): each draws its arguments, applies them to the
 * memory broker (the reference) and to the engine under test, and compares the answers.
 */
import assert from 'node:assert/strict'
import type { DeadJob, Delivery, LeaseRef, OutgoingJob, PullBroker } from '../../src/contracts/broker.js'
import type { Prng } from '../support/prng.js'

/** Far longer than a sequence: leases never expire under the test. */
export const LEASE_MS = 600_000

export interface Sequence {
  readonly rng: Prng
  readonly queue: string
  readonly ref: PullBroker
  readonly eng: PullBroker
  /** Every delivery made so far, on both sides: tokens stay usable (and stale) after settling. */
  readonly handles: { ref: LeaseRef; eng: LeaseRef }[]
  /** When delayed jobs and retries come due: [earliest, latest] epoch ms (calls differ slightly). */
  readonly due: [number, number][]
  /** The highest fence the engine gave each id. */
  readonly fences: Map<string, number>
  readonly trace: string[]
}

export type Step = (s: Sequence) => Promise<void>

/** A small pool, so ids repeat: publishing a live id, a dead one, replaying a live one. */
const IDS = Array.from({ length: 8 }, (_, i) => `j${i}`)
const PRIORITIES = [0, 0, 0, 4, 9]
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function seen(d: Delivery) {
  return { id: d.id, queue: d.queue, body: d.body, priority: d.priority, deliveries: d.deliveries }
}

function seenDead(d: DeadJob) {
  return {
    id: d.id,
    queue: d.queue,
    body: d.body,
    priority: d.priority,
    reason: d.reason,
    deliveries: d.deliveries,
  }
}

function same<T>(ref: T, eng: T, what: string): void {
  assert.deepEqual(eng, ref, `${what}: the engine (actual) differs from the memory broker (expected)`)
}

/**
 * Waits while a delayed job is about to come due, so that the reference and the engine, asked
 * one after the other, both see it due or both not. The look-ahead covers the time between the
 * two calls on a loaded machine (a network round trip and a busy event loop), not just a fast one.
 */
async function quiet(s: Sequence, all = false): Promise<void> {
  for (;;) {
    const now = Date.now()
    const near = s.due.filter(([lo, hi]) => (all ? hi >= now - 3 : hi >= now - 3 && lo <= now + 60))
    if (!near.length) return
    await sleep(Math.max(...near.map(([, hi]) => hi)) - now + 4)
  }
}

/**
 * A delay in [lo, hi] ms whose due window (calls start at `start`, end by about `start` + 5)
 * stays clear of every other one, so that no two jobs come due so close together that the
 * engines, reading their clocks a moment apart, could order them differently. Null if none is.
 */
function freeDelay(s: Sequence, lo: number, hi: number, start: number): number | null {
  for (let tries = 0; tries < 20; tries++) {
    const d = s.rng.int(lo, hi)
    const [a, b] = [start + d, start + d + 5]
    if (s.due.every(([x, y]) => b + 3 < x || a - 3 > y)) return d
  }
  return null
}

/** One to three deliveries made so far (live or stale), now and then an unknown one. */
function pickHandles(s: Sequence): { ref: LeaseRef; eng: LeaseRef }[] {
  const out = []
  for (let n = s.rng.int(1, 3); n > 0; n--) {
    if (!s.handles.length || s.rng.chance(0.08)) {
      // An id no job has, with a token the engine gave some delivery: stale all the same.
      const other = s.handles.length ? s.rng.pick(s.handles) : null
      out.push({
        ref: { id: 'unknown', token: other?.ref.token ?? '1:1' },
        eng: { id: 'unknown', token: other?.eng.token ?? '1:1' },
      })
    } else {
      // Recent deliveries more often: they are the live ones.
      const i = s.rng.chance(0.7)
        ? s.handles.length - 1 - s.rng.int(0, Math.min(4, s.handles.length - 1))
        : s.rng.int(0, s.handles.length - 1)
      out.push(s.handles[i]!)
    }
  }
  return out
}

const ids = (refs: readonly LeaseRef[]) => refs.map((r) => r.id).join(',')

async function both<T>(s: Sequence, what: string, call: (b: PullBroker) => Promise<T>): Promise<T> {
  const ref = await call(s.ref)
  const eng = await call(s.eng)
  s.trace.push(`${what} -> ${JSON.stringify(ref)}`)
  same(ref, eng, what)
  return ref
}

async function compareContents(s: Sequence): Promise<void> {
  await quiet(s)
  const [ref] = await s.ref.stats([s.queue])
  const [eng] = await s.eng.stats([s.queue])
  const counts = (r: typeof ref) =>
    r && { waiting: r.waiting, delayed: r.delayed, active: r.active, dead: r.dead, paused: r.paused }
  s.trace.push(`stats -> ${JSON.stringify(counts(ref))}`)
  same(counts(ref), counts(eng), 'stats')
  const dead = async (b: PullBroker) => (await b.listDead({ queue: s.queue })).map(seenDead)
  same(await dead(s.ref), await dead(s.eng), 'listDead')
}

async function reserve(s: Sequence, max: number): Promise<void> {
  await quiet(s)
  const ref = await s.ref.reserve([s.queue], max, { leaseMs: LEASE_MS })
  const eng = await s.eng.reserve([s.queue], max, { leaseMs: LEASE_MS })
  s.trace.push(
    `reserve ${max} -> ${ref.map((d) => `${d.id}(${d.body},p${d.priority},#${d.deliveries})`).join(' ')}`,
  )
  same(ref.map(seen), eng.map(seen), 'reserve')
  eng.forEach((d, i) => {
    const before = s.fences.get(d.id)
    assert.ok(before === undefined || d.fence > before, `fence of ${d.id} grows: ${before} then ${d.fence}`)
    s.fences.set(d.id, d.fence)
    s.handles.push({ ref: ref[i]!, eng: d })
  })
}

export const operations = {
  async publish(s: Sequence): Promise<void> {
    const now = Date.now()
    const jobs: OutgoingJob[] = Array.from({ length: s.rng.int(1, 4) }, () => {
      const delay = s.rng.chance(0.2) ? freeDelay(s, 20, 40, now) : null
      const availableAt = delay !== null ? now + delay : s.rng.chance(0.05) ? now - 1000 : undefined
      if (delay !== null) s.due.push([availableAt!, availableAt!])
      return {
        id: s.rng.pick(IDS),
        queue: s.queue,
        body: `b${s.rng.int(0, 999)}`,
        priority: s.rng.pick(PRIORITIES),
        ...(availableAt === undefined ? {} : { availableAt }),
      }
    })
    const shown = jobs.map(
      (j) => `${j.id}(${j.body},p${j.priority}${j.availableAt ? `,at+${j.availableAt - now}` : ''})`,
    )
    await both(s, `publish ${shown.join(' ')}`, (b) => b.publish(jobs))
  },

  reserve: (s: Sequence) => reserve(s, s.rng.int(1, 5)),

  async ack(s: Sequence): Promise<void> {
    const h = pickHandles(s)
    const ref = await s.ref.ack(h.map((x) => x.ref))
    const eng = await s.eng.ack(h.map((x) => x.eng))
    s.trace.push(`ack ${ids(h.map((x) => x.ref))} -> ${ref.join(',')}`)
    same(ref, eng, 'ack')
  },

  async extend(s: Sequence): Promise<void> {
    const h = pickHandles(s)
    const ref = await s.ref.extend(
      h.map((x) => x.ref),
      LEASE_MS,
    )
    const eng = await s.eng.extend(
      h.map((x) => x.eng),
      LEASE_MS,
    )
    s.trace.push(`extend ${ids(h.map((x) => x.ref))} -> ${ref.join(',')}`)
    same(ref, eng, 'extend')
  },

  async release(s: Sequence): Promise<void> {
    const h = pickHandles(s)
    const ref = await s.ref.release(h.map((x) => x.ref))
    const eng = await s.eng.release(h.map((x) => x.eng))
    s.trace.push(`release ${ids(h.map((x) => x.ref))} -> ${ref.join(',')}`)
    same(ref, eng, 'release')
  },

  async retry(s: Sequence): Promise<void> {
    const h = pickHandles(s)
    const before = Date.now()
    const windows: number[] = []
    const extra = h.map(() => {
      const delayMs = s.rng.chance(0.6) ? 0 : (freeDelay(s, 20, 40, before) ?? 0)
      // Reserved now, so the next retry's delay keeps clear of this one.
      if (delayMs > 0) windows.push(s.due.push([before + delayMs, before + delayMs + 5]) - 1)
      return { body: `r${s.rng.int(0, 999)}`, delayMs }
    })
    const ref = await s.ref.retry(h.map((x, i) => ({ ...x.ref, ...extra[i]! })))
    const eng = await s.eng.retry(h.map((x, i) => ({ ...x.eng, ...extra[i]! })))
    // Slow calls (a loaded machine) widen the windows: waits stay right, only less spaced.
    const after = Date.now()
    for (const i of windows) s.due[i] = [s.due[i]![0], Math.max(s.due[i]![1], s.due[i]![0] + after - before)]
    s.trace.push(
      `retry ${h.map((x, i) => `${x.ref.id}(${extra[i]!.body},+${extra[i]!.delayMs})`).join(' ')} -> ${ref.join(',')}`,
    )
    same(ref, eng, 'retry')
  },

  async deadLetter(s: Sequence): Promise<void> {
    const h = pickHandles(s)
    const reasons = h.map(() => `why${s.rng.int(0, 99)}`)
    const ref = await s.ref.deadLetter(h.map((x, i) => ({ ...x.ref, reason: reasons[i]! })))
    const eng = await s.eng.deadLetter(h.map((x, i) => ({ ...x.eng, reason: reasons[i]! })))
    s.trace.push(`deadLetter ${ids(h.map((x) => x.ref))} -> ${ref.join(',')}`)
    same(ref, eng, 'deadLetter')
  },

  async replayDead(s: Sequence): Promise<void> {
    const chosen = s.rng.chance(0.3)
      ? undefined
      : Array.from({ length: s.rng.int(1, 4) }, () => s.rng.pick(IDS))
    await both(s, `replayDead ${chosen?.join(',') ?? '(all)'}`, (b) => b.replayDead(chosen))
  },

  async purge(s: Sequence): Promise<void> {
    await both(s, 'purge', (b) => b.purge(s.queue))
  },

  async pruneDead(s: Sequence): Promise<void> {
    const options = s.rng.chance(0.7)
      ? { keep: s.rng.int(0, 3) }
      : { before: Date.now() + (s.rng.chance(0.5) ? 60_000 : -60_000) }
    await both(s, `pruneDead ${JSON.stringify(options)}`, (b) => b.pruneDead(options))
  },

  stats: compareContents,

  /** The end of a sequence: contents compared, then everything left delivered and compared. */
  async finish(s: Sequence): Promise<void> {
    await compareContents(s)
    await quiet(s, true)
    await reserve(s, 100)
    await compareContents(s)
  },
}
