/**
 * The worker: reserves batches from the broker, runs up to `concurrency` tasks at once (async
 * slots), extends leases while tasks run, settles outcomes in batches, and shuts down cleanly.
 */
import { EventEmitter } from 'node:events'
import { hostname, availableParallelism } from 'node:os'
import type { Broker, Delivery } from '../contracts/broker.js'
import type { ResultRecord, ResultStore } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { type Duration, toMs } from '../core/duration.js'
import { ConfigError, redactUrl } from '../core/errors.js'
import { execute, type ExecuteEnv } from './execute.js'
import { createLogger, type Logger } from './logger.js'
import { OutageLog } from './outage.js'
import { Settler, type Outcome } from './settle.js'

export interface WorkerOptions {
  /** Tasks run at once (default: the number of CPUs, as in Celery). */
  readonly concurrency?: number
  /** Queues to consume, in priority order for equal task priorities (default: the app's default queue). */
  readonly queues?: readonly string[]
  /**
   * Deliveries reserved beyond the running ones, so slots never wait on the broker. Default
   * 3 × concurrency: 4 × concurrency held in all, Celery's default prefetch multiplier. Lower it
   * (even to 0) for long tasks spread over many workers.
   */
  readonly prefetch?: number
  /** Lease (visibility timeout): a job held this long without a heartbeat is redelivered (default 30s). */
  readonly lease?: Duration
  /** On SIGTERM, how long running tasks may take to finish before they are handed back (default 30s). */
  readonly shutdownGrace?: Duration
  /** A delivery seen more often than this is dead-lettered as a poison message (default 10). */
  readonly maxDeliveries?: number
  /** Worker name in results and logs (default celeriac@<host>:<pid>). */
  readonly name?: string
  readonly logger?: Logger
}

export interface WorkerStats {
  readonly received: number
  readonly succeeded: number
  readonly failed: number
  readonly retried: number
  readonly deadLettered: number
  /** Settle calls whose token was stale: the lease had been lost and the job redelivered. */
  readonly stale: number
  readonly running: number
  readonly buffered: number
}

/**
 * @example
 * const worker = new Worker(app, { concurrency: 8, queues: ['default', 'email'] })
 * await worker.start()
 * process.on('SIGTERM', () => worker.stop())
 */
export class Worker extends EventEmitter {
  readonly name: string
  readonly concurrency: number
  readonly queues: readonly string[]
  readonly prefetch: number
  readonly leaseMs: number
  readonly graceMs: number
  readonly log: Logger
  private broker!: Broker
  private results: ResultStore | null = null
  private settler!: Settler
  private env!: ExecuteEnv
  /** Deliveries this worker holds a lease on: buffered, running, or finished but not yet settled. */
  private readonly held = new Map<string, Delivery>()
  private readonly buffer: Delivery[] = []
  private running = 0
  private consuming = false
  private readonly stopReserving = new AbortController()
  private wake: (() => void) | null = null
  private heartbeat: NodeJS.Timeout | null = null
  private cleanupTimer: NodeJS.Timeout | null = null
  private loop: Promise<void> | null = null
  private stopping: Promise<void> | null = null
  private idle: (() => void) | null = null
  private counts = { received: 0, succeeded: 0, failed: 0, retried: 0, deadLettered: 0, stale: 0 }
  private readonly outages: OutageLog
  private readonly maxDeliveries: number

  constructor(
    readonly app: App,
    options: WorkerOptions = {},
  ) {
    super()
    this.concurrency = options.concurrency ?? availableParallelism()
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new ConfigError(`concurrency must be a positive integer, got ${options.concurrency}`)
    this.queues = options.queues?.length ? [...options.queues] : [app.defaultQueue]
    this.prefetch = options.prefetch ?? 3 * this.concurrency
    this.leaseMs = toMs(options.lease ?? 30_000, 'lease')
    this.graceMs = toMs(options.shutdownGrace ?? 30_000, 'shutdownGrace')
    this.name = options.name ?? `celeriac@${hostname()}:${process.pid}`
    this.log = options.logger ?? createLogger()
    this.maxDeliveries = options.maxDeliveries ?? 10
    this.outages = new OutageLog(this.log)
  }

  get stats(): WorkerStats {
    return { ...this.counts, running: this.running, buffered: this.buffer.length }
  }

  /** Connects and starts consuming. Resolves once consuming has begun. */
  async start(): Promise<void> {
    if (this.loop) return
    this.broker = await this.app.broker()
    this.results = await this.app.resultStore()
    this.env = {
      app: this.app,
      worker: this.name,
      log: this.log,
      maxDeliveries: this.maxDeliveries,
      aborts: new Set(),
      started: (r) => this.recordStarted(r),
    }
    this.settler = new Settler(this.broker, this.results, {
      settled: (o, live) => this.settled(o, live),
      failed: (err, n) => this.outages.failed('settling finished tasks', err, { pending: n }),
      ok: () => this.outages.ok('settling finished tasks'),
    })
    this.heartbeat = setInterval(() => void this.extendLeases(), Math.max(50, Math.floor(this.leaseMs / 3)))
    this.heartbeat.unref()
    if (this.results) {
      this.cleanupTimer = setInterval(() => void this.results?.cleanup().catch(() => {}), 60_000)
      this.cleanupTimer.unref()
    }
    this.consuming = true
    this.loop = this.consume()
    this.emit('online')
  }

  /** Resolves when the worker has stopped. */
  get done(): Promise<void> {
    return this.stopping ?? this.loop?.then(() => this.stopping ?? undefined) ?? Promise.resolve()
  }

  private capacity(): number {
    return this.concurrency + this.prefetch - this.running - this.buffer.length
  }

  private async consume(): Promise<void> {
    let errorDelay = 0
    while (this.consuming) {
      // Let timers and the settler's flush run: with a synchronous broker every await here
      // resolves as a microtask, and the loop would otherwise starve the event loop.
      await new Promise<void>((r) => setImmediate(r))
      const free = this.capacity()
      if (free <= 0) {
        await new Promise<void>((r) => (this.wake = r))
        continue
      }
      let got: Delivery[]
      try {
        got = await this.broker.reserve(this.queues, free, {
          leaseMs: this.leaseMs,
          waitMs: 1000,
          signal: this.stopReserving.signal,
        })
        this.outages.ok('reserving from the broker')
        errorDelay = 0
      } catch (err) {
        this.outages.failed('reserving from the broker', err, {
          broker: redactUrl(this.app.brokerUrl ?? this.broker.scheme),
        })
        // Short and capped: the worker should be consuming within a second or two of the broker's return.
        errorDelay = Math.min(Math.max(errorDelay * 2, 100), 2000)
        await new Promise((r) => setTimeout(r, errorDelay))
        continue
      }
      if (!this.consuming) {
        // Stopped while the reserve was in flight: hand these straight back.
        await this.broker.release(got).catch(() => {})
        break
      }
      this.counts.received += got.length
      for (const d of got) {
        this.held.set(d.token, d)
        if (this.running < this.concurrency) this.run(d)
        else this.buffer.push(d)
      }
    }
  }

  private run(d: Delivery): void {
    this.running++
    void execute(this.env, d).then((outcome) => {
      this.running--
      this.tally(outcome)
      this.settler.add(outcome)
      const next = this.consuming ? this.buffer.shift() : undefined
      if (next) this.run(next)
      if (this.wake) {
        const w = this.wake
        this.wake = null
        w()
      }
      if (this.running === 0 && this.idle) this.idle()
    })
  }

  private startedBatch: ResultRecord[] = []

  /** STARTED records of one event-loop turn go to the store together. */
  private recordStarted(r: ResultRecord): void {
    if (this.startedBatch.push(r) > 1) return
    setImmediate(() => {
      const batch = this.startedBatch
      this.startedBatch = []
      this.results
        ?.set(batch)
        .catch((err: Error) => this.log.warn({ err: err.message }, 'could not record STARTED states'))
    })
  }

  private tally(o: Outcome): void {
    if (o.kind === 'ack') {
      if (o.result?.state !== 'REVOKED') this.counts.succeeded++
      this.emit('task-succeeded', o.delivery.id)
    } else if (o.kind === 'retry') {
      this.counts.retried++
      this.emit('task-retried', o.delivery.id)
    } else {
      this.counts.deadLettered++
      if (o.result?.state === 'FAILURE') this.counts.failed++
      this.emit('task-failed', o.delivery.id, o.reason)
    }
  }

  private settled(o: Outcome, live: boolean): void {
    this.held.delete(o.delivery.token)
    if (!live) {
      this.counts.stale++
      this.log.warn(
        { id: o.delivery.id },
        'settled with a stale token: the lease had been lost (the job may run or have run elsewhere) or an earlier try of this write had already applied',
      )
    }
    this.emit('settled', o, live)
  }

  private async extendLeases(): Promise<void> {
    if (!this.held.size) return
    const refs = [...this.held.values()]
    try {
      const ok = await this.broker.extend(refs, this.leaseMs)
      this.outages.ok('extending leases')
      ok.forEach((live, i) => {
        // A job settled while the extension was in flight is not held any more: nothing was lost.
        if (!live && this.held.has(refs[i]!.token))
          this.log.warn(
            { id: refs[i]!.id },
            'lease lost while holding the job (it expired or was taken over)',
          )
      })
    } catch (err) {
      this.outages.failed('extending leases', err)
    }
  }

  /**
   * Warm shutdown: stop reserving, hand back buffered jobs, let running tasks finish within
   * `grace` (default the worker's shutdownGrace), then hand back whatever still runs. Call again
   * with grace 0 for a cold shutdown.
   */
  stop(options: { grace?: Duration } = {}): Promise<void> {
    const graceMs = options.grace === undefined ? this.graceMs : toMs(options.grace, 'grace')
    if (this.stopping) {
      if (graceMs === 0) this.coldDeadline?.()
      return this.stopping
    }
    this.stopping = this.shutdown(graceMs)
    return this.stopping
  }

  private coldDeadline: (() => void) | null = null

  private async shutdown(graceMs: number): Promise<void> {
    this.consuming = false
    this.stopReserving.abort()
    this.wake?.()
    await this.loop
    const buffered = this.buffer.splice(0)
    if (buffered.length) {
      await this.broker.release(buffered).catch(() => {})
      for (const d of buffered) this.held.delete(d.token)
    }
    if (this.running > 0) {
      this.log.info({ running: this.running, graceMs }, 'waiting for running tasks to finish')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs)
        this.coldDeadline = () => {
          clearTimeout(timer)
          resolve()
        }
        this.idle = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    await this.settler.drain(Date.now() + 10_000)
    if (this.running > 0) {
      const abandoned = [...this.held.values()]
      this.log.warn(
        { count: abandoned.length },
        'grace period over; handing unfinished tasks back to the broker',
      )
      for (const abort of this.env.aborts) abort(new Error('worker shut down'))
      await this.broker.release(abandoned).catch(() => {})
    }
    if (this.heartbeat) clearInterval(this.heartbeat)
    if (this.cleanupTimer) clearInterval(this.cleanupTimer)
    this.emit('offline')
  }
}
