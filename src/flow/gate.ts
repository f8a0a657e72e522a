/**
 * The worker's flow-control gate: between checking a delivery and running it, it applies the
 * limits that hold across every worker (debounce, per-key concurrency, queue and task rate limits,
 * per-key rate limits) through the coordination part. A delivery a limit holds back is deferred:
 * handed back to the broker unchanged, delayed, not counted as a delivery (`Broker.defer`), so
 * nothing waits in worker memory and no retry or max-deliveries count moves.
 *
 * A task with no limit and no run-time override costs a few map lookups and no round trip.
 */
import type { Coordination } from '../contracts/coordination.js'
import type { BucketSpec } from '../contracts/coordination.js'
import type { App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { formatRate } from '../core/rate.js'
import type { Logger } from '../worker/logger.js'
import type { PreparedJob, WorkerEnv } from '../worker/prepare.js'
import { makeRecord } from '../worker/records.js'
import type { Outcome } from '../worker/settle.js'
import { DEBOUNCE_HEADER, DEBOUNCE_SPACE, UNIQUE_HEADER, UNIQUE_SPACE } from './headers.js'
import { readOverrides, setRateLimit, type Override } from './overrides.js'
import { Pacer } from './pacer.js'
import { Slots } from './slots.js'
import { Takes } from './takes.js'

/** What the worker calls; see execute.ts. */
export interface FlowHooks {
  /** Null (synchronously) when no limit applies; else resolves null to run it, or its outcome. */
  admit(env: WorkerEnv, job: PreparedJob): Promise<Outcome | null> | null
  /** The run of an admitted job ended (its slot is given back). */
  finished(job: PreparedJob): void
  /** The outcome of a delivery was written (a unique key is given back when it finished). */
  settled(outcome: Outcome, live: boolean): void
  stop(): Promise<void>
}

export interface FlowGateOptions {
  readonly coordination: Coordination
  readonly log: Logger
  /** TTL of per-key slots: the worker's lease, so a dead worker's slots lapse with its jobs. */
  readonly slotTtlMs: number
  /** How often run-time overrides are re-read (default 1 s). */
  readonly refreshMs?: number
}

/** How long a job is held back when the coordination part cannot be reached. */
const OUTAGE_DEFER_MS = 1000

export class FlowGate implements FlowHooks {
  private overrides = new Map<string, Override>()
  private readonly pacer = new Pacer()
  private readonly slots: Slots
  private readonly takes: Takes
  private readonly unique = new Map<string, { key: string; id: string }>()
  /** Start times of admitted jobs holding a slot, and the average run time per task. */
  private readonly admitted = new Map<string, { at: number; slot: string }>()
  private readonly runMs = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null
  private readonly badOverrides = new Set<string>()
  /**
   * Limits known to refuse until a time, by name: a bucket that answered "wait w" has no token
   * for anyone before then (tokens only come with time), and a key whose slots were all taken is
   * not asked again for a short while. Jobs of such a limit are deferred without a round trip.
   */
  private readonly blocked = new Map<string, number>()
  private readonly slotChains = new Map<string, Promise<void>>()
  private readonly coordination: Coordination
  private readonly log: Logger

  constructor(private readonly options: FlowGateOptions) {
    this.coordination = options.coordination
    this.log = options.log
    this.takes = new Takes(options.coordination)
    this.slots = new Slots(options.coordination, options.slotTtlMs, (msg, err) =>
      this.log.warn({ err: err instanceof Error ? err.message : undefined }, msg),
    )
  }

  /**
   * The gate of a worker of `app`: null when the app has no coordination part and no task asks
   * for flow control (a task that does, without one, is refused with the reason).
   */
  static async forWorker(
    app: App,
    coordination: Coordination | null,
    log: Logger,
    leaseMs: number,
  ): Promise<FlowGate | null> {
    if (!coordination) {
      const limited = app.taskNames().filter((n) => app.getTask(n)?.settings.flow)
      if (limited.length)
        throw new ConfigError(
          `tasks ${limited.join(', ')} use flow control (rateLimit, perKey, unique or debounce), which needs a coordination part (a sqlite, redis or postgres broker or result backend)`,
        )
      return null
    }
    const gate = new FlowGate({ coordination, log, slotTtlMs: leaseMs })
    await gate.start()
    return gate
  }

  /** Reads the overrides once (so they hold from the first job) and then every refreshMs. */
  async start(): Promise<void> {
    await this.refresh()
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? 1000)
    this.timer.unref()
  }

  private async refresh(): Promise<void> {
    try {
      const next = await readOverrides(this.coordination, (key, value, err) => {
        if (this.badOverrides.has(key)) return
        this.badOverrides.add(key)
        this.log.warn({ key, value, err: err.message }, 'rate limit override ignored')
      })
      for (const [key, o] of next) {
        const before = this.overrides.get(key)
        const text = o === 'off' ? 'off' : formatRate(o)
        if (before === undefined || (before === 'off' ? 'off' : formatRate(before)) !== text)
          this.log.info({ key, rate: text }, 'rate limit set at run time')
      }
      this.overrides = next
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'could not re-read rate limit overrides')
    }
  }

  /**
   * `celeriac control rate-limit <task> <rate>` as a worker answers it: the rate (or 'off') is
   * stored for every worker, as `celeriac rate-limit` does, and applied here at once.
   */
  async controlRateLimit(args: Record<string, unknown>): Promise<{ task: string; rate: string }> {
    const { task, rate } = args
    if (typeof task !== 'string' || !task || typeof rate !== 'string' || !rate)
      throw new ConfigError('rate-limit takes a task name and a rate (such as 50/s, or off)')
    await setRateLimit(this.coordination, { task }, rate === 'off' ? 'off' : rate)
    await this.refresh()
    return { task, rate }
  }

  /** The rate of a task or queue: a run-time override first, else the task's own. */
  private rate(key: string, own: BucketSpec | null): BucketSpec | null {
    const o = this.overrides.get(key)
    return o === undefined ? own : o === 'off' ? null : o
  }

  admit(env: WorkerEnv, job: PreparedJob): Promise<Outcome | null> | null {
    const flow = job.task.settings.flow
    const headers = job.msg.headers
    const uniqueKey = headers[UNIQUE_HEADER]
    if (typeof uniqueKey === 'string') this.unique.set(job.delivery.token, { key: uniqueKey, id: job.msg.id })
    const debounceKey = headers[DEBOUNCE_HEADER]
    const taskRate = this.rate(`task:${job.task.name}`, flow?.rate ?? null)
    const queueRate = this.rate(`queue:${job.delivery.queue}`, null)
    if (typeof debounceKey !== 'string' && !taskRate && !queueRate && !flow?.keyRate && !flow?.keyConcurrency)
      return null
    return this.gate(
      env,
      job,
      typeof debounceKey === 'string' ? debounceKey : null,
      taskRate,
      queueRate,
    ).catch((err: unknown) => {
      this.log.warn(
        { id: job.msg.id, task: job.task.name, err: (err as Error).message },
        'flow limits could not be checked; the job is deferred',
      )
      void this.slots.give(job.delivery.token)
      return this.defer(job, OUTAGE_DEFER_MS)
    })
  }

  private defer(job: PreparedJob, delayMs: number): Outcome {
    return { kind: 'defer', delivery: job.delivery, delayMs }
  }

  private async gate(
    env: WorkerEnv,
    job: PreparedJob,
    debounceKey: string | null,
    taskRate: BucketSpec | null,
    queueRate: BucketSpec | null,
  ): Promise<Outcome | null> {
    const { delivery, msg, task } = job
    const flow = task.settings.flow
    if (debounceKey !== null) {
      const [latest] = await this.coordination.get(DEBOUNCE_SPACE, [debounceKey])
      if (latest !== null && latest !== undefined && latest !== msg.id) {
        env.log.debug({ id: msg.id, task: msg.task, by: latest }, 'debounced: a later send supersedes it')
        const error = new Error(`debounced: superseded by a later send (${latest})`)
        error.name = 'DebouncedError'
        return {
          kind: 'ack',
          delivery,
          result: job.storeResult ? makeRecord(env, msg, delivery, 'REVOKED', null, { error }) : undefined,
        }
      }
    }
    let key: string | null = null
    if (flow?.keyRate || flow?.keyConcurrency) {
      try {
        key = String(task.options.limitKey!(...(job.args as never[])))
      } catch (err) {
        const reason = `limitKey of task "${task.name}" threw: ${(err as Error)?.message ?? String(err)}`
        env.log.error({ id: msg.id, task: task.name }, `${reason}; sent to the dead-letter store`)
        return { kind: 'dead', delivery, reason }
      }
    }
    const owner = delivery.token
    let slot = false
    if (flow?.keyConcurrency && key !== null) {
      const n = flow.keyConcurrency
      const name = `slot:${task.name}:${key}`
      const spacing = Math.min(1000, Math.max(5, (this.runMs.get(task.name) ?? 50) / n))
      if (!(await this.takeSlot(name, `${task.name}:${key}`, n, owner))) {
        this.block(name, Date.now() + spacing)
        return this.defer(job, this.pacer.delay(name, spacing, spacing))
      }
      slot = true
      this.admitted.set(owner, { at: Date.now(), slot: name })
    }
    const buckets: [string, BucketSpec | null][] = [
      [`queue:${delivery.queue}`, queueRate],
      [`task:${task.name}`, taskRate],
      [`key:${task.name}:${key}`, key !== null ? (flow?.keyRate ?? null) : null],
    ]
    for (const [bucket, spec] of buckets) {
      if (!spec) continue
      // What is known locally about a bucket holds for its rate only: a rate changed at run time
      // starts afresh (no stale wait, no spacing at the old rate).
      const name = `${bucket}@${spec.rate}/${spec.perMs}/${spec.burst ?? ''}`
      const until = this.blocked.get(name)
      const wait =
        until !== undefined && until > Date.now()
          ? until - Date.now()
          : await this.takes.take(`flow:${bucket}`, spec)
      if (wait > 0) {
        this.block(name, Date.now() + wait)
        if (slot) {
          this.admitted.delete(owner)
          await this.slots.give(owner)
        }
        return this.defer(job, this.pacer.delay(name, wait, spec.perMs / spec.rate))
      }
    }
    return null
  }

  /**
   * Slot takes of one key go one after the other in this worker, so once one finds every slot
   * taken, the jobs queued behind it are deferred without asking (a batch of 80 jobs of a busy
   * key costs a few round trips, not 80 × N).
   */
  private takeSlot(name: string, lockName: string, n: number, owner: string): Promise<boolean> {
    const before = this.slotChains.get(name) ?? Promise.resolve()
    const mine = before.then(() => (this.isBlocked(name) ? false : this.slots.take(lockName, n, owner)))
    const tail = mine.then(
      () => {},
      () => {},
    )
    this.slotChains.set(name, tail)
    void tail.then(() => {
      if (this.slotChains.get(name) === tail) this.slotChains.delete(name)
    })
    return mine
  }

  private isBlocked(name: string): boolean {
    const until = this.blocked.get(name)
    return until !== undefined && until > Date.now()
  }

  private block(name: string, until: number): void {
    if (this.blocked.size > 10_000) {
      const now = Date.now()
      for (const [k, t] of this.blocked) if (t <= now) this.blocked.delete(k)
    }
    if ((this.blocked.get(name) ?? 0) < until) this.blocked.set(name, until)
  }

  finished(job: PreparedJob): void {
    const held = this.admitted.get(job.delivery.token)
    if (held === undefined) return
    this.admitted.delete(job.delivery.token)
    // A slot of this key comes free: this worker's next job of the key may ask again at once.
    this.blocked.delete(held.slot)
    const ms = Date.now() - held.at
    const avg = this.runMs.get(job.task.name)
    this.runMs.set(job.task.name, avg === undefined ? ms : avg * 0.8 + ms * 0.2)
    void this.slots.give(job.delivery.token)
  }

  settled(outcome: Outcome, live: boolean): void {
    const u = this.unique.get(outcome.delivery.token)
    if (!u) return
    this.unique.delete(outcome.delivery.token)
    // A retried or deferred job is still waiting: it keeps its key.
    if (!live || outcome.kind === 'retry' || outcome.kind === 'defer') return
    this.coordination
      .remove(UNIQUE_SPACE, [u.key], { ifValue: u.id })
      .catch((err: Error) =>
        this.log.warn({ id: u.id, err: err.message }, 'unique key not given back; it lapses with its ttl'),
      )
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.slots.stop()
  }
}
