/**
 * Beat: sends periodic tasks. Any number of beat processes may run; one leads at a time, by a
 * fenced TTL lock in the coordination part, and only the leader fires. Each round the leader
 * reads the entries and their last fires from the coordination records, and for every tick due:
 *
 *   1. writes the fire as pending in `fired:<name>`, fenced by the lock (a beat that lost the lock
 *      writes nothing, so a paused old leader cannot fire after a new one took over);
 *   2. publishes it with a deterministic task id (`beat:<entry>:<tick ISO time>`), all fires of
 *      the round in one batch, only while the lock is surely still held;
 *   3. marks the fires published, fenced again.
 *
 * A leader that dies between 1 and 3 leaves the pending fires to the next leader, which publishes
 * them again under the same ids (skipped by brokers with idempotent publish while the first copy
 * is still queued, run once by the workers' run claims on RabbitMQ, and skipped by beat when the
 * result store already has a result for the id).
 * A tick is never marked done before it is published, so none is lost; the ids make a second
 * publish of one tick a no-op, so none fires twice.
 */
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { OutgoingJob } from '../contracts/broker.js'
import type { Coordination, Lock, RecordWrite } from '../contracts/coordination.js'
import type { App } from '../core/app.js'
import { toMs, type Duration } from '../core/duration.js'
import { ConfigError } from '../core/errors.js'
import { encodeMessage } from '../core/message.js'
import { checkEntry, type EntrySpec } from './entries.js'
import { addEntry, entryInfo, listEntries, removeEntry, setPaused, type EntryInfo } from './manage.js'
import {
  allKeys,
  baseline,
  canonical,
  entryValue,
  fireId,
  firedValue,
  readState,
  recordKey,
  type EntryState,
  type PendingFire,
  type StoredEntry,
} from './records.js'
import { dueTicks, tickerFor } from './ticks.js'

export const BEAT_BRAND = Symbol.for('celeriac.beat')

/** What beat logs through: pino's shape (a task's `ctx.log` fits too). */
export interface BeatLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const silent: BeatLogger = { debug() {}, info() {}, warn() {}, error() {} }

export interface BeatOptions {
  /** Entries declared in code (`cron`, `every`, `once`). More can be added at run time. */
  readonly entries?: readonly EntrySpec[]
  /**
   * The records space and lock name (default 'beat'). Beats with the same key on the same
   * coordination URL share their entries and elect one leader.
   */
  readonly key?: string
  /** How long leadership lasts without renewal (default 10s): a dead leader's successor waits this long. */
  readonly lockTtl?: Duration
  /** Longest wait between rounds (default 1s); rounds also run right when a tick is due. */
  readonly interval?: Duration
  /**
   * A tick this late or less is fired whatever the entry's missed policy (default 2 × lockTtl):
   * the ticks a dead leader left to its successor are not "missed".
   */
  readonly grace?: Duration
  readonly logger?: BeatLogger
  /** This process's name in the lock (default host:pid:random). */
  readonly owner?: string
  /** The schedule's clock (default Date.now); tests pass a fake one. Leadership uses the engine's. */
  readonly now?: () => number
}

/** One fire sent by a round. */
export interface Fire {
  readonly entry: string
  readonly task: string
  readonly id: string
  readonly tick: number
  /** A fire a previous leader decided but may not have sent, sent again under the same id. */
  readonly recovered: boolean
}

interface Planned {
  readonly state: EntryState & { entry: StoredEntry }
  readonly fires: PendingFire[]
  readonly recovered: number
  readonly last: number | null
}

/**
 * A periodic-task scheduler for an app.
 *
 * @example
 * export const beat = createBeat(app, {
 *   entries: [
 *     cron('nightly-report', '0 30 2 * * *', report, ['daily'], { timezone: 'Europe/Berlin' }),
 *     every('heartbeat', '30s', ping, []),
 *   ],
 * })
 * // celeriac beat -A ./tasks.ts   (or: celeriac worker -A ./tasks.ts -B)
 */
export class Beat {
  readonly [BEAT_BRAND] = true
  readonly key: string
  readonly lockTtlMs: number
  readonly intervalMs: number
  readonly graceMs: number
  readonly owner: string
  /** The entries declared in code. */
  readonly entries: readonly EntrySpec[]
  private log: BeatLogger
  private readonly now: () => number
  private lock: Lock | null = null
  /** performance.now() when the engine last confirmed the lock. */
  private lockAt = 0
  private nextDueAt = Infinity
  private loop: Promise<void> | null = null
  private abort: AbortController | null = null

  constructor(
    readonly app: App,
    options: BeatOptions = {},
  ) {
    this.key = options.key ?? 'beat'
    if (!/^[\w.:-]{1,100}$/.test(this.key))
      throw new ConfigError(`beat key "${this.key}" must be 1 to 100 letters, digits and . _ - :`)
    this.lockTtlMs = toMs(options.lockTtl ?? 10_000, 'beat lockTtl')
    this.intervalMs = toMs(options.interval ?? 1000, 'beat interval')
    this.graceMs = toMs(options.grace ?? 2 * this.lockTtlMs, 'beat grace')
    if (this.lockTtlMs < 1000) throw new ConfigError('beat lockTtl must be 1s or more')
    if (!(this.intervalMs > 0 && this.intervalMs * 3 <= this.lockTtlMs))
      throw new ConfigError(
        `beat interval (${this.intervalMs}ms) must be positive and at most a third of lockTtl (${this.lockTtlMs}ms), so that the leader renews in time`,
      )
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    this.log = options.logger ?? silent
    this.now = options.now ?? Date.now
    const names = new Set<string>()
    this.entries = (options.entries ?? []).map((e) => {
      const entry = checkEntry(e)
      if (names.has(entry.name)) throw new ConfigError(`beat entry "${entry.name}" is declared twice`)
      names.add(entry.name)
      return entry
    })
  }

  /** Whether this beat held the lock at its last round. */
  get isLeader(): boolean {
    return this.lock !== null
  }

  private async coordination(): Promise<Coordination> {
    const coord = await this.app.coordination()
    if (!coord)
      throw new ConfigError(
        'beat needs a coordination part (a leader lock and its records): use a broker or coordination URL on sqlite, redis, postgres or memory',
      )
    return coord
  }

  /** Starts the rounds in the background (logging through `logger` when given). Resolves after the first round. */
  async start(options: { readonly logger?: BeatLogger } = {}): Promise<void> {
    if (this.loop) return
    if (options.logger) this.log = options.logger
    await this.coordination()
    const broker = await this.app.broker()
    if (!broker.capabilities.idempotentPublish && !broker.capabilities.marksChosenIds)
      this.log.warn(
        { broker: broker.scheme },
        'this broker has no idempotent publish: if two beats ever both believe they lead (a leader paused past its lock), a tick can be sent twice',
      )
    const abort = new AbortController()
    this.abort = abort
    let first!: () => void
    const started = new Promise<void>((r) => (first = r))
    this.loop = this.rounds(abort.signal, first)
    await started
  }

  private async rounds(signal: AbortSignal, started: () => void): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.runOnce()
      } catch (err) {
        this.log.error({ err }, 'beat round failed; trying again')
      }
      started()
      await sleep(this.delay(), signal)
    }
  }

  private delay(): number {
    if (!this.lock) return this.intervalMs
    return Math.max(10, Math.min(this.intervalMs, this.nextDueAt - this.now()))
  }

  /** Stops the rounds and lets the lock go, so another beat takes over at once. */
  async stop(): Promise<void> {
    this.abort?.abort()
    await this.loop
    this.loop = null
    const lock = this.lock
    this.lock = null
    if (lock) {
      try {
        await (await this.coordination()).release(lock)
        this.log.info({ fence: lock.fence }, 'beat stopped leading')
      } catch (err) {
        this.log.warn({ err }, 'could not release the beat lock; it lapses on its own')
      }
    }
  }

  /**
   * One round: take or renew leadership, and as leader fire what is due. Returns the fires sent.
   * `start` runs rounds on a timer; tests and embedders may call this directly.
   */
  async runOnce(): Promise<Fire[]> {
    const coord = await this.coordination()
    const asked = performance.now()
    if (this.lock && !(await coord.renew(this.lock, this.lockTtlMs))) this.lost('it lapsed before renewal')
    else if (this.lock) this.lockAt = asked
    if (!this.lock) {
      const lock = await coord.acquire(this.key, this.owner, this.lockTtlMs)
      if (!lock) return []
      this.lock = lock
      this.lockAt = asked
      this.log.info({ owner: this.owner, fence: lock.fence }, 'beat is the leader')
      if (!(await this.syncCode(coord, lock))) return []
    }
    return this.fireDue(coord, this.lock)
  }

  private lost(why: string): void {
    this.log.warn({ owner: this.owner, fence: this.lock?.fence }, `beat lost leadership: ${why}`)
    this.lock = null
  }

  /** Stores the entries declared in code, and forgets stored code entries no longer declared. */
  private async syncCode(coord: Coordination, lock: Lock): Promise<boolean> {
    const state = readState(await coord.list(this.key))
    const now = this.now()
    const writes: RecordWrite[] = []
    for (const spec of this.entries) {
      const cur = state.entries.get(spec.name)?.entry
      if (cur?.source === 'code' && canonical(cur.spec) === canonical(spec)) continue
      if (cur?.source === 'api')
        this.log.warn(
          { entry: spec.name },
          'an entry added at run time is replaced by the one declared in code',
        )
      writes.push({
        key: recordKey.entry(spec.name),
        value: entryValue({ spec, source: 'code', since: now }),
      })
    }
    if (writes.length && !(await coord.put(this.key, writes, { ifLock: lock }))) {
      this.lost('another beat took the lock')
      return false
    }
    const declared = new Set(this.entries.map((e) => e.name))
    const gone = [...state.entries]
      .filter(([name, s]) => s.entry?.source === 'code' && !declared.has(name))
      .map(([name]) => name)
    if (gone.length) {
      await coord.remove(this.key, gone.flatMap(allKeys))
      this.log.info({ entries: gone }, 'forgot entries no longer declared in code')
    }
    return true
  }

  private async fireDue(coord: Coordination, lock: Lock): Promise<Fire[]> {
    const state = readState(await coord.list(this.key))
    for (const b of state.broken) this.log.error(b, 'a beat record cannot be read; its entry is left alone')
    const now = this.now()
    const plans: Planned[] = []
    let nextDue = Infinity
    for (const [name, s] of state.entries) {
      if (!s.entry) continue
      const st = s as EntryState & { entry: StoredEntry }
      const pending = [...(st.fired?.pending ?? [])]
      let last = st.fired?.last ?? null
      const fires: PendingFire[] = [...pending]
      const ticker = tickerFor(st.entry.spec.schedule)
      if (!st.pause?.paused) {
        const due = dueTicks(ticker, baseline(st), now, this.graceMs, st.entry.spec.missed)
        if (due.missed)
          this.log.warn(
            { entry: name, policy: st.entry.spec.missed ?? 'once', firing: due.fire.length },
            'ticks were missed while no beat was running',
          )
        for (const tick of due.fire) fires.push({ id: fireId(name, tick), tick })
        if (due.upTo !== null) last = due.upTo
        const next = ticker.next(last ?? baseline(st))
        if (next !== null) nextDue = Math.min(nextDue, next)
      }
      // Dropped ticks (policy 'skip') move `last` on too, or they would count as missed again.
      if (fires.length || last !== (st.fired?.last ?? null))
        plans.push({ state: st, fires, recovered: pending.length, last })
    }
    this.nextDueAt = nextDue
    if (!plans.length) return []

    const intent = plans.map((p) => ({
      key: recordKey.fired(p.state.entry.spec.name),
      value: firedValue({ last: p.last, pending: p.fires }),
    }))
    if (!(await coord.put(this.key, intent, { ifLock: lock }))) {
      this.lost('another beat took the lock')
      return []
    }
    // The lock holds until about lockAt + ttl. Publishing late in that window could overlap a
    // successor; leave the fires pending instead: whoever leads next sends them.
    if (performance.now() - this.lockAt > this.lockTtlMs / 2) {
      this.log.warn({ entries: plans.length }, 'beat round ran slow; fires left pending for the next round')
      return []
    }
    const fires = await this.publish(plans)
    const done = plans.map((p) => ({
      key: recordKey.fired(p.state.entry.spec.name),
      value: firedValue({ last: p.last, pending: [] }),
    }))
    if (!(await coord.put(this.key, done, { ifLock: lock }))) this.lost('another beat took the lock')
    for (const f of fires)
      this.log.info(
        {
          entry: f.entry,
          task: f.task,
          id: f.id,
          tick: new Date(f.tick).toISOString(),
          recovered: f.recovered,
        },
        'beat fired',
      )
    return fires
  }

  private async publish(plans: readonly Planned[]): Promise<Fire[]> {
    const recovered = plans.flatMap((p) => p.fires.slice(0, p.recovered).map((f) => f.id))
    const known = new Set<string>()
    if (recovered.length) {
      // A fire that already has a result was published (and ran): sending it again would run it twice.
      const store = await this.app.resultStore()
      const records = store ? await store.get(recovered) : []
      recovered.forEach((id, i) => records[i] && known.add(id))
    }
    const now = Date.now()
    const jobs: OutgoingJob[] = []
    const fires: Fire[] = []
    for (const p of plans) {
      const spec = p.state.entry.spec
      const defaults = this.app.getTask(spec.task)?.options ?? {}
      p.fires.forEach((f, i) => {
        if (known.has(f.id)) return
        const { message, availableAt } = this.app.buildMessage(
          spec.task,
          [...spec.args],
          {
            id: f.id,
            ...(spec.kwargs ? { kwargs: { ...spec.kwargs } } : {}),
            ...(spec.queue !== undefined ? { queue: spec.queue } : {}),
            ...(spec.priority !== undefined ? { priority: spec.priority } : {}),
            headers: { 'beat-entry': spec.name, 'beat-tick': new Date(f.tick).toISOString() },
          },
          defaults,
          now,
        )
        jobs.push({
          id: message.id,
          queue: message.queue,
          priority: message.priority,
          body: encodeMessage(message, this.app.maxMessageBytes),
          availableAt,
        })
        fires.push({ entry: spec.name, task: spec.task, id: f.id, tick: f.tick, recovered: i < p.recovered })
      })
    }
    if (jobs.length) await (await this.app.broker()).publish(jobs)
    return fires
  }

  /** Entries with their next fire time: those stored, and those declared here not stored yet. */
  async list(): Promise<EntryInfo[]> {
    const stored = await listEntries(await this.coordination(), this.key)
    const names = new Set(stored.map((e) => e.name))
    const unstored = this.entries
      .filter((e) => !names.has(e.name))
      .map((spec) => entryInfo({ entry: { spec, source: 'code', since: this.now() } }, false))
    return [...stored, ...unstored].sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Adds an entry at run time, or changes the one of that name (not one declared in code). */
  async add(spec: EntrySpec): Promise<'added' | 'changed' | 'unchanged'> {
    return addEntry(await this.coordination(), this.key, spec, this.now())
  }

  /** Removes an entry added at run time. False when there was none. */
  async remove(name: string): Promise<boolean> {
    return removeEntry(await this.coordination(), this.key, name)
  }

  /** Stops firing an entry; ticks while paused are dropped. */
  async pause(name: string): Promise<void> {
    return setPaused(await this.coordination(), this.key, name, true, this.now())
  }

  /** Fires an entry again from its next tick. */
  async resume(name: string): Promise<void> {
    return setPaused(await this.coordination(), this.key, name, false, this.now())
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done)
  })
}

/** Creates a beat for an app. See `Beat`. */
export function createBeat(app: App, options: BeatOptions = {}): Beat {
  return new Beat(app, options)
}

/** Whether a value is a Beat (also one from another copy of the package). */
export function isBeat(value: unknown): value is Beat {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BEAT_BRAND] === true
  )
}
