/**
 * The worker: reserves batches from the broker, runs up to `concurrency` tasks at once (async
 * slots), extends leases while tasks run, settles outcomes in batches, and shuts down cleanly.
 */
import { EventEmitter } from 'node:events'
import { hostname, availableParallelism } from 'node:os'
import type { Broker, Delivery } from '../contracts/broker.js'
import type { Consumption } from '../contracts/consumer.js'
import type { ResultRecord, ResultStore } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { type Duration, toMs } from '../core/duration.js'
import { ConfigError, redactUrl } from '../core/errors.js'
import { execute, type ExecuteEnv } from './execute.js'
import { EventSink, held, TaskEvents, type Held } from './events.js'
import { FlowGate } from '../flow/gate.js'
import { Housekeeper } from './housekeeping.js'
import type { CeleriacEvent } from '../core/events.js'
import { createLogger, type Logger } from './logger.js'
import { OutageLog } from './outage.js'
import { workerProgress, type ProgressReporter } from './progress.js'
import type { TaskRunner } from './run.js'
import { Settler, type Outcome } from './settle.js'
import { WorkerFlow } from '../canvas/hooks.js'
import { ControlAgent, DEFAULT_HEARTBEAT_MS } from '../control/agent.js'
import { ControlCommands } from '../control/commands.js'
import type { Terminator } from '../control/terminator.js'
import type { ControlledWorker } from '../control/worker-handle.js'
import type { PreparedJob } from './prepare.js'
import { remoteHandle, type RunningJob } from './remote.js'
import { RunClaims } from '../dedup/index.js'
import { bothWatches, type RunWatch } from './watch.js'

/**
 * Finished outcomes a worker may hold unwritten while it keeps receiving, in units of its credit:
 * the Settler writes up to four batches at once, so four credits' worth keeps it busy while the
 * next reservations arrive.
 */
const SETTLE_WINDOW = 4

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
  /**
   * A delivery that ended this many times without finishing (the worker died running it; a
   * retry the task asked for is not counted) is dead-lettered as a poison message (default 10).
   */
  readonly maxDeliveries?: number
  /** How long dead-lettered jobs are kept before housekeeping deletes them (default 7 days; false keeps them). */
  readonly deadLetterRetention?: Duration | false
  /** How often the housekeeping leader cleans expired results and old dead letters (default 60s). */
  readonly housekeepingInterval?: Duration
  /**
   * Send task and worker events to the coordination part's event log, for `celeriac events`
   * and the dashboard (Celery's -E). Default false: one more write per batch of outcomes.
   */
  readonly events?: boolean
  /** How many events the log keeps (default 10,000). */
  readonly eventsMaxLen?: number
  /**
   * One info line per succeeded task, as Celery's worker prints (failures and retries are always
   * logged). Default: when stdout is a terminal; it costs 6-23 % of a no-op task's throughput.
   */
  readonly logTasks?: boolean
  /**
   * Where task bodies run: a thread or process pool (`createPool` from src/pool), sized to match
   * `concurrency`. Default: async slots in this process.
   */
  readonly pool?: TaskRunner
  /**
   * Join the worker registry and answer remote control (`celeriac inspect|control|revoke`) when
   * the app has a coordination part (default true).
   */
  readonly control?: boolean
  /** How often the worker writes its registry entry (and its heartbeat event); default 2s. */
  readonly heartbeatInterval?: Duration
  /** Worker name in results and logs (default celeriac@<host>:<pid>). */
  readonly name?: string
  readonly logger?: Logger
  /**
   * Watches each run (per-task metrics: `taskMetrics` of src/health). Default none: nothing is
   * called per task. Tracing is the app's `tracing` option and needs nothing here.
   */
  readonly watch?: RunWatch
}

/** What an orchestrator's probes ask of a worker (see src/health/). */
export interface WorkerHealth {
  /** starting: connecting; consuming: receiving tasks; stopping: in its shutdown; stopped. */
  readonly phase: 'starting' | 'consuming' | 'stopping' | 'stopped'
  /** Broker or store calls failing now (reserving, settling, extending leases…), since when. */
  readonly failing: readonly { what: string; since: number }[]
}

export interface WorkerStats {
  readonly received: number
  readonly succeeded: number
  readonly failed: number
  readonly retried: number
  readonly deadLettered: number
  /** Deliveries a flow limit held back (handed back to the broker for later, not counted). */
  readonly deferred: number
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
  /** Tasks run at once; remote control may change it (pool-grow, pool-shrink). */
  get concurrency(): number {
    return this.slots
  }
  /** Queues consumed; remote control may change them (add-consumer, cancel-consumer). */
  get queues(): readonly string[] {
    return this.queueList
  }
  private slots: number
  private queueList: string[]
  /** Control commands this worker answers; features add their own with `register`. */
  readonly control = new ControlCommands()
  /** Set by a pool that can kill what runs a task (revoke --terminate); none on the async pool. */
  terminator: Terminator | null = null
  /** The pool's name in the registry and `inspect stats`. */
  poolName = 'async'
  readonly startedAt = Date.now()
  readonly heartbeatMs: number
  private readonly controlOn: boolean
  private agent: ControlAgent | null = null
  /** Running tasks by delivery token (inspect active, revoke). */
  private readonly runs = new Map<string, RunningJob>()
  /** Credit to hold back after a pool-shrink, instead of granting it again. */
  private debt = 0
  readonly prefetch: number
  readonly leaseMs: number
  readonly graceMs: number
  readonly log: Logger
  /** The thread or process pool task bodies run in; null for async slots. */
  readonly pool: TaskRunner | null
  private broker!: Broker
  private results: ResultStore | null = null
  private settler!: Settler
  private env!: ExecuteEnv
  /**
   * Deliveries this worker holds a lease on: buffered, running, or finished but not yet settled.
   * Credit (concurrency + prefetch) comes back when a task finishes while at most as many
   * outcomes wait to be written, and only when written beyond that: a worker that cannot settle
   * stops receiving, holding at most twice its credit.
   */
  private readonly held = new Map<string, Held>()
  private readonly buffer: Delivery[] = []
  private running = 0
  private consuming = false
  private consumption: Consumption | null = null
  private heartbeat: NodeJS.Timeout | null = null
  private housekeeper: Housekeeper | null = null
  private started_: Promise<void> | null = null
  private stopping: Promise<void> | null = null
  private idle: (() => void) | null = null
  private counts = {
    received: 0,
    succeeded: 0,
    failed: 0,
    retried: 0,
    deadLettered: 0,
    deferred: 0,
    stale: 0,
  }
  private flowGate: FlowGate | null = null
  private readonly outages: OutageLog
  private readonly maxDeliveries: number

  constructor(
    readonly app: App,
    options: WorkerOptions = {},
  ) {
    super()
    this.slots = options.concurrency ?? availableParallelism()
    if (!Number.isInteger(this.slots) || this.slots < 1)
      throw new ConfigError(`concurrency must be a positive integer, got ${options.concurrency}`)
    this.queueList = options.queues?.length ? [...options.queues] : [app.defaultQueue]
    this.controlOn = options.control ?? true
    this.heartbeatMs = toMs(options.heartbeatInterval ?? DEFAULT_HEARTBEAT_MS, 'heartbeatInterval')
    if (this.heartbeatMs < 10)
      throw new ConfigError(`heartbeatInterval must be at least 10 ms, got ${this.heartbeatMs}`)
    this.prefetch = options.prefetch ?? 3 * this.concurrency
    this.leaseMs = toMs(options.lease ?? 30_000, 'lease')
    this.graceMs = toMs(options.shutdownGrace ?? 30_000, 'shutdownGrace')
    this.name = options.name ?? `celeriac@${hostname()}:${process.pid}`
    this.log = options.logger ?? createLogger()
    this.maxDeliveries = options.maxDeliveries ?? 10
    if (!Number.isInteger(this.maxDeliveries) || this.maxDeliveries < 1)
      throw new ConfigError(`maxDeliveries must be a positive integer, got ${options.maxDeliveries}`)
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0)
      throw new ConfigError(`prefetch must be a whole number (0 or more), got ${options.prefetch}`)
    this.deadRetentionMs =
      options.deadLetterRetention === false
        ? null
        : toMs(options.deadLetterRetention ?? '7d', 'deadLetterRetention')
    this.housekeepingMs = toMs(options.housekeepingInterval ?? 60_000, 'housekeepingInterval')
    this.wantEvents = options.events ?? false
    this.logTasks = options.logTasks ?? process.stdout.isTTY === true
    this.eventsMaxLen = options.eventsMaxLen ?? 10_000
    this.outages = new OutageLog(this.log)
    this.pool = options.pool ?? null
    this.watch = options.watch
    const pool = this.pool
    if (pool) {
      this.poolName = pool.kind
      if (pool.terminate) this.terminator = { terminate: (id) => pool.terminate!(id) }
    }
  }

  private readonly deadRetentionMs: number | null
  private readonly watch: RunWatch | undefined
  private readonly housekeepingMs: number
  private readonly wantEvents: boolean
  private readonly logTasks: boolean
  private readonly eventsMaxLen: number
  private events: EventSink | null = null
  private progress: ProgressReporter | null = null
  /** One run per caller-chosen id, on a broker without idempotent publish (src/dedup). */
  private claims: RunClaims | null = null
  /** Task events (only while events are on). */
  private taskEvents: TaskEvents | null = null
  private eventBeat: NodeJS.Timeout | null = null
  /** Finished deliveries whose outcome is not written yet, by token. */
  private readonly unsettled = new Set<string>()
  /** Of those, the ones whose credit is given back only when written (past the window). */
  private readonly owed = new Set<string>()
  /** How many outcomes may wait to be written while the worker keeps receiving. */
  private get settleWindow(): number {
    return SETTLE_WINDOW * (this.concurrency + this.prefetch)
  }

  get stats(): WorkerStats {
    return { ...this.counts, running: this.running, buffered: this.buffer.length }
  }

  get health(): WorkerHealth {
    const phase = this.hasStopped
      ? 'stopped'
      : this.stopping
        ? 'stopping'
        : this.consuming
          ? 'consuming'
          : 'starting'
    return { phase, failing: this.outages.failing() }
  }

  /** Connects and starts consuming. Resolves once consuming has begun. */
  start(): Promise<void> {
    this.started_ ??= this.begin()
    return this.started_
  }

  private async begin(): Promise<void> {
    this.broker = await this.app.broker()
    this.results = await this.app.resultStore()
    await this.pool?.start()
    const flow = new WorkerFlow(this.app, this.results, this.name, this.log)
    const tracing = this.app.tracing ? await import('../otel/run.js').then((m) => m.runTracing()) : undefined
    this.env = {
      watch: bothWatches(this.watch, tracing),
      runner: this.pool ?? undefined,
      flow,
      steps: (job: PreparedJob) => flow.steps(job.msg, job.delivery),
      app: this.app,
      worker: this.name,
      log: this.log,
      maxDeliveries: this.maxDeliveries,
      logTasks: this.logTasks,
      aborts: new Set(),
      revoked: { has: (id) => this.agent?.revocations.has(id) ?? false },
      track: (run) => {
        this.runs.set(run.job.delivery.token, run)
        this.taskEvents?.started(run)
      },
      untrack: (run) => this.runs.delete(run.job.delivery.token),
      started: (r) => this.recordStarted(r),
      progress: (job, encoded, at) => this.progress?.report(job, encoded, at),
      ran: (job) => this.progress?.end(job),
    }
    this.settler = new Settler(this.broker, this.results, {
      followUps: (items, written) => flow.runtime.run(items, written),
      settled: (o, live) => this.settled(o, live),
      recordEvents: (withRecords) => this.taskEvents?.recordEvents(withRecords),
      failed: (err, n) => this.outages.failed('settling finished tasks', err, { pending: n }),
      ok: () => this.outages.ok('settling finished tasks'),
    })
    this.heartbeat = setInterval(() => void this.extendLeases(), Math.max(50, Math.floor(this.leaseMs / 3)))
    this.heartbeat.unref()
    const coordination = await this.app.coordination().catch((err: Error) => {
      this.log.warn(
        { err: err.message },
        'the coordination part cannot be opened; every worker does housekeeping',
      )
      return null
    })
    if (coordination && !this.broker.capabilities.idempotentPublish) {
      const claims = new RunClaims(coordination, this.name, this.app.resultExpiresMs, this.log)
      this.claims = claims
      this.env = { ...this.env, mayRun: (d) => claims.mayRun(d) }
    }
    if (this.wantEvents) {
      if (!coordination)
        throw new ConfigError(
          'events need a coordination part (a broker or result backend that has one: sqlite, redis)',
        )
      this.events = new EventSink(coordination, this.eventsMaxLen, this.log)
      this.taskEvents = new TaskEvents(this.events, this.name, this.held)
      if (this.results?.writesEventsTo?.(coordination)) this.taskEvents.rideOnResults(this.eventsMaxLen)
      this.taskEvents.start()
    }
    this.progress = workerProgress({
      app: this.app,
      worker: this.name,
      log: this.log,
      results: this.results,
      coordination,
      event: this.events
        ? (e, job) => {
            this.taskEvents?.progressOf(job)
            this.event(e)
          }
        : undefined,
    })
    this.housekeeper = new Housekeeper({
      owner: this.name,
      intervalMs: this.housekeepingMs,
      coordination,
      results: this.results,
      broker: this.broker,
      deadRetentionMs: this.deadRetentionMs,
      log: this.log,
    })
    this.housekeeper.start()
    this.flowGate = await FlowGate.forWorker(this.app, coordination, this.log, this.leaseMs)
    if (this.flowGate) {
      const gate = this.flowGate
      this.env = { ...this.env, gate }
      this.control.register('rate-limit', (args) => gate.controlRateLimit(args))
    }
    if (this.controlOn && coordination) {
      // Before consuming: the revoked set is loaded before the first delivery is checked.
      this.agent = new ControlAgent(coordination, this.remote(), this.control, {
        heartbeatMs: this.heartbeatMs,
        log: this.log,
      })
      await this.agent.start()
    } else if (this.controlOn)
      this.log.warn(
        'no coordination part (broker and result backend supply none): no revoke, registry or remote control',
      )
    this.consuming = true
    this.consumption = this.consume(this.concurrency + this.prefetch)
    this.event({ type: 'worker-online' })
    if (this.events) {
      this.eventBeat = setInterval(() => this.event({ type: 'worker-heartbeat' }), this.heartbeatMs)
      this.eventBeat.unref()
    }
    this.emit('online')
  }

  /** Sends an event to the log (when events are on), stamped with time and worker. */
  private event(e: Omit<CeleriacEvent, 'at' | 'worker'>): void {
    if (!this.events) return
    const worker: Partial<CeleriacEvent> = e.type.startsWith('worker-')
      ? { running: this.running, processed: this.counts.succeeded + this.counts.failed + this.counts.retried }
      : {}
    this.events.emit({ ...e, ...worker, at: Date.now(), worker: this.name })
  }

  /** Resolves when the worker has stopped (at once if it never started). */
  get done(): Promise<void> {
    return this.started_ ? this.stopped : Promise.resolve()
  }

  private markStopped!: () => void
  private hasStopped = false
  private readonly stopped = new Promise<void>(
    (resolve) =>
      (this.markStopped = () => {
        this.hasStopped = true
        resolve()
      }),
  )

  private received(got: Delivery[]): void {
    this.counts.received += got.length
    const at = this.taskEvents ? Date.now() : 0
    for (const d of got) {
      this.held.set(d.token, held(d, at))
      if (this.running < this.concurrency) this.run(d)
      else this.buffer.push(d)
    }
  }

  private run(d: Delivery): void {
    this.running++
    void execute(this.env, d).then((outcome) => {
      this.running--
      if (this.held.has(d.token)) {
        this.tally(outcome)
        // The slot's credit comes back now while few outcomes wait to be written, so reserving
        // overlaps settling; past the window it waits for the write (backpressure).
        if (this.unsettled.size < this.settleWindow) this.giveBack()
        else this.owed.add(d.token)
        this.unsettled.add(d.token)
        this.settler.add(outcome)
      } else {
        // Handed back at the end of the shutdown grace: another worker runs it again, and what
        // this aborted run came to must not be recorded.
        this.log.debug({ id: d.id }, 'outcome of a delivery handed back at shutdown dropped')
      }
      const next = this.consuming ? this.buffer.shift() : undefined
      if (next) this.run(next)
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
    } else if (o.kind === 'defer') {
      this.counts.deferred++
    } else {
      this.counts.deadLettered++
      if (o.result?.state === 'FAILURE') this.counts.failed++
      this.emit('task-failed', o.delivery.id, o.reason)
    }
  }

  private settled(o: Outcome, live: boolean): void {
    this.taskEvents?.settled(o, live)
    this.held.delete(o.delivery.token)
    this.unsettled.delete(o.delivery.token)
    if (this.owed.delete(o.delivery.token)) this.giveBack()
    this.flowGate?.settled(o, live)
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
    const refs = Array.from(this.held.values(), (h) => h.delivery)
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
    await this.started_?.catch(() => {})
    if (!this.consumption) return this.markStopped()
    this.consuming = false
    await this.consumption.stop()
    await this.housekeeper?.stop()
    const buffered = this.buffer.splice(0)
    if (buffered.length) {
      for (const d of buffered) this.held.delete(d.token)
      await this.broker.release(buffered).catch(() => {})
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
    if (this.running > 0) {
      // Unfinished runs are handed back: forgotten first, so their outcomes are dropped.
      const settling = new Set(this.settler.tokens())
      const abandoned: Delivery[] = []
      for (const h of this.held.values()) if (!settling.has(h.delivery.token)) abandoned.push(h.delivery)
      for (const d of abandoned) this.held.delete(d.token)
      this.log.warn(
        { count: abandoned.length },
        'grace period over; handing unfinished tasks back to the broker',
      )
      for (const run of this.env.aborts) run.abort(new Error('worker shut down'))
      await this.broker.release(abandoned).catch(() => {})
    }
    // Outcomes get a last chance to be written, bounded so a broker that is away cannot hold
    // the process: what is not written is run again once its lease lapses.
    await this.settler.drain(Date.now() + Math.min(10_000, Math.max(1_000, graceMs)))
    const lost = this.settler.close()
    if (lost)
      this.log.warn(
        { count: lost },
        'outcomes not written before shutdown; their leases will expire and the jobs run again',
      )
    await this.flowGate?.stop()
    await this.pool?.close()
    if (this.heartbeat) clearInterval(this.heartbeat)
    if (this.eventBeat) clearInterval(this.eventBeat)
    this.taskEvents?.stop()
    await this.progress?.close()
    await this.agent?.stop()
    this.event({ type: 'worker-offline' })
    await this.events?.flush()
    this.emit('offline')
    this.markStopped()
  }

  private consume(credit: number): Consumption {
    return this.broker.consume({
      queues: this.queueList,
      leaseMs: this.leaseMs,
      credit,
      onDeliveries: (got) => this.received(got),
      onError: (err) =>
        this.outages.failed('reserving from the broker', err, {
          broker: redactUrl(this.app.brokerUrl ?? this.broker.scheme),
        }),
      onRecovered: () => this.outages.ok('reserving from the broker'),
    })
  }

  /** One delivery's credit comes back: granted again, unless a pool-shrink holds it back. */
  private giveBack(): void {
    if (this.debt > 0) this.debt--
    else if (this.consuming) this.consumption?.grant(1)
  }

  /** The narrow view remote control gets of this worker. */
  private remote(): ControlledWorker {
    return remoteHandle({
      worker: this,
      runs: this.runs,
      buffered: () => this.buffer,
      revocations: () => this.agent?.revocations ?? null,
      resize: (delta) => this.resize(delta),
      setQueues: (queues) => this.setQueues(queues),
    })
  }

  private resize(delta: number): number {
    if (delta > 0) {
      this.slots += delta
      const repaid = Math.min(this.debt, delta)
      this.debt -= repaid
      if (this.consuming && delta > repaid) this.consumption?.grant(delta - repaid)
      while (this.consuming && this.running < this.slots && this.buffer.length) this.run(this.buffer.shift()!)
    } else {
      const to = Math.max(1, this.slots + delta)
      this.debt += this.slots - to
      this.slots = to
    }
    // A pool keeps one child per slot.
    if (this.pool && delta > 0) this.pool.grow?.(delta)
    else if (this.pool && delta < 0) this.pool.shrink?.(-delta)
    this.log.info({ concurrency: this.slots }, 'concurrency changed by remote control')
    return this.slots
  }

  /** Consumes another set of queues: the consumption is restarted with the credit not in use. */
  private async setQueues(queues: string[]): Promise<void> {
    if (!this.consuming || !this.consumption) throw new Error('the worker is not consuming')
    const old = this.consumption
    await old.stop()
    this.queueList = queues
    const inUse = this.buffer.length + this.running + this.owed.size
    const capacity = this.slots + this.prefetch
    this.debt = Math.max(0, inUse - capacity)
    if (this.consuming) this.consumption = this.consume(Math.max(0, capacity - inUse))
    this.log.info({ queues }, 'queues changed by remote control')
  }
}
