/**
 * The app: configuration, the task registry and the producer. Workers, beat, the dashboard and
 * the CLI are all given an app.
 */
import type { Broker, OutgoingJob, PublishOptions } from '../contracts/broker.js'
import type { Coordination } from '../contracts/coordination.js'
import type { ResultStore } from '../contracts/result-store.js'
import type { BackendLoaders } from './backends.js'
import { Connections, type AppConnections } from './connections.js'
import { type Duration, toMs } from './duration.js'
import { ConfigError } from './errors.js'
import { uuidv7 } from './ids.js'
import { DEFAULT_MAX_MESSAGE_BYTES, ENVELOPE_VERSION, encodeMessage, type Message } from './message.js'
import { AsyncResult } from './result.js'
import { RemoteTask } from './remote-task.js'
import { DEFAULT_REVOKE_EXPIRES_MS, revokeTasks } from '../control/revoke.js'
import { callbackWires } from './signature.js'
import type { SendSpans, SendTracer } from '../otel/send.js'
import { Task, type SendDefaults, type SendOptions, type TaskFn, type TaskOptions } from './task.js'

export const APP_BRAND = Symbol.for('celeriac.app')

export { DEFAULT_BROKER_URL } from './connections.js'

export interface AppOptions {
  /** Broker URL or instance. Default: $CELERIAC_BROKER, else sqlite://./celeriac.db. */
  readonly broker?: string | Broker
  /**
   * Result store URL or instance, or false for none. Default: $CELERIAC_RESULT_BACKEND, else the
   * broker's URL when that backend stores results (sqlite, memory, redis).
   */
  readonly resultBackend?: string | ResultStore | false
  /** Queue for tasks that name none (default 'default'). */
  readonly defaultQueue?: string
  /** How long results are kept (default 1 day; $CELERIAC_RESULT_EXPIRES). */
  readonly resultExpires?: Duration
  /**
   * How long the results of failed tasks (FAILURE, dead-lettered ones included) are kept
   * (default: as long as resultExpires; $CELERIAC_FAILURE_RESULT_EXPIRES), so failures can be
   * looked into after successes are gone.
   */
  readonly failureResultExpires?: Duration
  /** Largest encoded message accepted by send, and by a worker (default 1 MiB). */
  readonly maxMessageBytes?: number
  /**
   * Largest encoded result a worker stores (default: maxMessageBytes). A task returning more
   * ends in FAILURE saying so: store the value elsewhere and return a reference.
   */
  readonly maxResultBytes?: number
  /** A name shown in banners and logs. */
  readonly name?: string
  /**
   * Store STARTED when a worker begins a task, as Celery's task_track_started (default false:
   * it costs one more write per task, batched).
   */
  readonly trackStarted?: boolean
  /**
   * Coordination URL (locks, joins, rate limits, events, broadcast). Default:
   * $CELERIAC_COORDINATION, else the broker's URL when its backend supplies coordination, else
   * the result backend's.
   */
  readonly coordination?: string
  /** More URL schemes, or replacements for built-in ones: scheme → loader of a BackendFactory. */
  readonly backends?: BackendLoaders
  /** How long a revocation is kept (default 3 hours, as Celery; $CELERIAC_REVOKE_EXPIRES in ms). */
  readonly revokeExpires?: Duration
  /**
   * OpenTelemetry tracing (default false): a PRODUCER span `send <task>` per message sent and a
   * CONSUMER span `run <task>` per run in a worker, one trace through W3C `traceparent` headers.
   * Needs `@opentelemetry/api` installed and a tracer provider registered (your SDK set-up);
   * until one is, nothing is started. See docs/observability.md.
   */
  readonly tracing?: boolean
}

export interface AppRevokeOptions {
  /** Also stop it if it runs now: kill its thread or process on a pool that can, free its slot on the async pool. */
  readonly terminate?: boolean
  /** How long the revocation is kept (default: the app's revokeExpires). */
  readonly expires?: Duration
}

export type { AppConnections } from './connections.js'

function envOr(name: string): string | undefined {
  const v = process.env[name]
  return v === undefined || v === '' ? undefined : v
}

function toEpoch(value: Date | string | number, what: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value)
  if (!Number.isFinite(ms)) throw new ConfigError(`${what} is not a valid time: ${String(value)}`)
  return ms
}

export class App {
  readonly [APP_BRAND] = true
  readonly name: string
  readonly defaultQueue: string
  readonly resultExpiresMs: number
  /** How long FAILURE records are kept; null: as long as other results (a task's own resultExpires). */
  readonly failureResultExpiresMs: number | null
  readonly maxMessageBytes: number
  readonly maxResultBytes: number
  readonly trackStarted: boolean
  readonly revokeExpiresMs: number
  /** Whether sends and runs are traced (the `tracing` option). */
  readonly tracing: boolean
  private sendTracer: SendTracer | null | undefined
  private readonly tasks = new Map<string, Task<never[], unknown>>()
  private readonly conn: Connections

  constructor(private readonly opts: AppOptions = {}) {
    this.name = opts.name ?? 'celeriac'
    this.defaultQueue = opts.defaultQueue ?? 'default'
    this.resultExpiresMs = toMs(
      opts.resultExpires ?? envOr('CELERIAC_RESULT_EXPIRES') ?? 86_400_000,
      'resultExpires',
    )
    const failureExpires = opts.failureResultExpires ?? envOr('CELERIAC_FAILURE_RESULT_EXPIRES')
    this.failureResultExpiresMs =
      failureExpires === undefined ? null : toMs(failureExpires, 'failureResultExpires')
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.maxResultBytes = opts.maxResultBytes ?? this.maxMessageBytes
    for (const [what, n] of [
      ['maxMessageBytes', this.maxMessageBytes],
      ['maxResultBytes', this.maxResultBytes],
    ] as const)
      if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${what} must be a positive integer, got ${n}`)
    this.trackStarted = opts.trackStarted ?? false
    this.revokeExpiresMs = toMs(
      opts.revokeExpires ?? envOr('CELERIAC_REVOKE_EXPIRES') ?? DEFAULT_REVOKE_EXPIRES_MS,
      'revokeExpires',
    )
    this.tracing = opts.tracing ?? false
    this.conn = new Connections(opts)
  }

  /** The broker URL, or null when the app was given a broker instance. */
  get brokerUrl(): string | null {
    return this.conn.brokerUrl
  }

  /** The result backend URL: null for none or an instance, undefined while it follows the broker's. */
  get resultBackendUrl(): string | null | undefined {
    return this.conn.resultBackendUrl
  }

  /** URL schemes this app can open. */
  schemes(): string[] {
    return this.conn.schemes()
  }

  /**
   * Points the app at other URLs before it first connects: what the CLI's `-b` and
   * `--result-backend` do to an app module's own settings. Throws once connected.
   */
  configure(connections: AppConnections): this {
    this.conn.configure(connections)
    return this
  }

  /**
   * Registers a task under a name. The returned handle is typed by the function: its arguments
   * (after the context) are what `delay` takes, its return value what `get` resolves.
   */
  task<A extends unknown[], R>(
    name: string,
    fn: TaskFn<A, R>,
    options: TaskOptions<A> = {},
  ): Task<A, Awaited<R>> {
    if (!name || typeof name !== 'string') throw new ConfigError('a task needs a non-empty name')
    if (this.tasks.has(name))
      throw new ConfigError(`task "${name}" is registered twice; task names must be unique`)
    if (options.priority !== undefined) checkPriority(options.priority)
    const task = new Task<A, Awaited<R>>(name, fn as TaskFn<A, Awaited<R>>, options, this)
    this.tasks.set(name, task as unknown as Task<never[], unknown>)
    return task
  }

  /**
   * Declares a task that another program runs (a Python Celery worker, say), to send it by
   * name with typed arguments and result. Nothing is registered here.
   *
   * @example
   * const add = app.remoteTask<[number, number], number>('proj.tasks.add')
   */
  remoteTask<A extends unknown[], R>(name: string): RemoteTask<A, R> {
    if (!name || typeof name !== 'string') throw new ConfigError('a remote task needs a non-empty name')
    return new RemoteTask<A, R>(name, this)
  }

  /** The registered task, or undefined. */
  getTask(name: string): Task<never[], unknown> | undefined {
    return this.tasks.get(name)
  }

  /** Names of all registered tasks, sorted. */
  taskNames(): string[] {
    return [...this.tasks.keys()].sort()
  }

  /** The broker, connected on first use. */
  broker(): Promise<Broker> {
    return this.conn.broker()
  }

  /** The result store, connected on first use, or null when results are off. */
  resultStore(): Promise<ResultStore | null> {
    return this.conn.resultStore()
  }

  /**
   * The coordination part (locks, joins, rate limits, events, broadcast), connected on first
   * use, or null when no backend of this app supplies one.
   */
  coordination(): Promise<Coordination | null> {
    return this.conn.coordination()
  }

  /** A handle on a task's result by id. */
  asyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(
      id,
      () => this.resultStore(),
      () => this.coordination(),
      (o) => this.revoke([id], o),
    )
  }

  /**
   * Revokes tasks: one that has not started is never run (a worker acknowledges it and records
   * REVOKED, on every broker, after restarts too, until the revocation expires); one that runs
   * now has its `ctx.signal` aborted and ends REVOKED. Needs a coordination part.
   *
   * @example
   * await app.revoke([job.id], { terminate: true })
   */
  async revoke(ids: string | readonly string[], options: AppRevokeOptions = {}): Promise<void> {
    await revokeTasks(await this.coordination(), typeof ids === 'string' ? [ids] : ids, {
      terminate: options.terminate,
      expiresMs: toMs(options.expires ?? this.revokeExpiresMs, 'expires'),
    })
  }

  /** Sends a task by name, for producers that do not import the task's code. */
  async sendTask<R = unknown>(
    name: string,
    args: unknown[] = [],
    options?: SendOptions,
  ): Promise<AsyncResult<R>> {
    const defaults: SendDefaults = this.tasks.get(name)?.options ?? {}
    const [r] = await this.send<R>(name, [{ args, options }], defaults)
    return r!
  }

  /** Builds messages (exported for the CLI and workflows). */
  buildMessage(
    task: string,
    args: unknown[],
    options: SendOptions = {},
    defaults: SendDefaults = {},
    now = Date.now(),
  ): { message: Message; availableAt: number } {
    if (!Array.isArray(args)) throw new ConfigError(`arguments for task "${task}" must be an array`)
    const priority = options.priority ?? defaults.priority ?? 0
    checkPriority(priority)
    let availableAt = now
    if (options.eta !== undefined) availableAt = toEpoch(options.eta, 'eta')
    else if (options.countdown !== undefined) availableAt = now + toMs(options.countdown, 'countdown')
    let expires: number | null = null
    const exp = options.expires ?? defaults.expires
    if (exp instanceof Date) expires = exp.getTime()
    else if (exp !== undefined) expires = now + toMs(exp, 'expires')
    const soft = defaults.softTimeLimit !== undefined ? toMs(defaults.softTimeLimit) / 1000 : null
    const hard = defaults.timeLimit !== undefined ? toMs(defaults.timeLimit) / 1000 : null
    const id = options.id ?? uuidv7(now)
    const message: Message = {
      v: ENVELOPE_VERSION,
      id,
      task,
      args,
      kwargs: options.kwargs ?? {},
      queue: options.queue ?? defaults.queue ?? this.defaultQueue,
      priority,
      eta: availableAt > now ? new Date(availableAt).toISOString() : null,
      expires: expires === null ? null : new Date(expires).toISOString(),
      retries: 0,
      timelimit: [soft, hard],
      root_id: options.rootId ?? id,
      parent_id: options.parentId ?? null,
      group: options.group ?? null,
      ignore_result: options.ignoreResult ?? defaults.ignoreResult ?? false,
      sent_at: isoAt(now),
      headers: options.headers ?? {},
    }
    const link = options.link === undefined ? [] : [options.link].flat()
    const linkError = options.linkError === undefined ? [] : [options.linkError].flat()
    if (link.length) message.callbacks = callbackWires(link, id, 'link')
    if (linkError.length) message.errbacks = callbackWires(linkError, id, 'err')
    return { message, availableAt }
  }

  /** @internal The producer path behind delay, applyAsync, sendMany and sendTask. */
  async send<R>(
    task: string,
    calls: readonly { args: unknown[]; options?: SendOptions }[],
    defaults: SendDefaults,
    publishOptions?: PublishOptions,
  ): Promise<AsyncResult<R>[]> {
    if (defaults.unique || defaults.debounce) {
      const { sendWithFlow } = await import('../flow/send.js')
      return sendWithFlow<R>(this, task, calls, defaults, publishOptions)
    }
    const now = Date.now()
    const transaction = calls.find((c) => c.options?.transaction !== undefined)?.options?.transaction
    if (calls.some((c) => c.options?.transaction !== transaction))
      throw new ConfigError('one send cannot span several transactions')
    const jobs: OutgoingJob[] = new Array(calls.length)
    const results: AsyncResult<R>[] = new Array(calls.length)
    // Tracing off: one flag. On: the API is loaded at the first send, then asked synchronously.
    const spans = !this.tracing
      ? null
      : this.sendTracer !== undefined
        ? (this.sendTracer?.batch() ?? null)
        : await this.sendSpans()
    try {
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i]!
        const { message, availableAt } = this.buildMessage(task, call.args, call.options, defaults, now)
        spans?.add(message)
        jobs[i] = {
          id: message.id,
          queue: message.queue,
          priority: message.priority,
          body: encodeMessage(message, this.maxMessageBytes),
          availableAt,
          ...(message.group !== null ? { group: message.group } : {}),
          ...(call.options?.id === undefined ? { generatedId: true } : {}),
        }
        results[i] = this.asyncResult<R>(message.id)
      }
      const broker = await this.broker()
      const options = transaction === undefined ? publishOptions : { ...publishOptions, transaction }
      if (options?.transaction !== undefined && !broker.capabilities.transactionalPublish)
        throw new ConfigError(
          `the ${broker.scheme} broker cannot enqueue inside your transaction (transactionalPublish); send after the commit instead`,
        )
      await broker.publish(jobs, options)
    } catch (err) {
      spans?.end(err)
      throw err
    }
    spans?.end()
    return results
  }

  /** Spans of one send call, or null when none is recorded (see src/otel). */
  private async sendSpans(): Promise<SendSpans | null> {
    if (this.sendTracer === undefined) {
      const { sendTracer } = await import('../otel/send.js')
      this.sendTracer = await sendTracer()
    }
    return this.sendTracer?.batch() ?? null
  }

  /**
   * Moves dead-lettered jobs back to their queues (all of them when ids is absent) and forgets
   * their stored FAILURE, so that their results read PENDING until they run again.
   */
  async replayDead(ids?: readonly string[]): Promise<number> {
    const broker = await this.broker()
    const chosen = ids ?? (await this.allDeadIds(broker))
    if (!chosen.length) return 0
    const store = await this.resultStore()
    // The jobs move first: if that fails, their FAILURE stays readable. Then the old records
    // are forgotten up to the fence they were written with; a replayed run that already began
    // wrote a higher fence and is kept.
    const before = store ? await store.get(chosen) : []
    const moved = await broker.replayDead(chosen)
    if (store) await store.forget(chosen, { upToFence: before.map((r) => (r ? (r.fence ?? null) : null)) })
    return moved
  }

  private async allDeadIds(broker: Broker): Promise<string[]> {
    const ids: string[] = []
    for (let offset = 0; ; offset += 1000) {
      const page = await broker.listDead({ limit: 1000, offset })
      ids.push(...page.map((d) => d.id))
      if (page.length < 1000) return ids
    }
  }

  /** Closes every connection this app opened (and the instances it was given). */
  close(): Promise<void> {
    return this.conn.close()
  }
}

/**
 * `new Date(ms).toISOString()` of the last `ms` asked for, kept: every message of a batch is built
 * at the same clock reading, and the conversion was most of buildMessage's CPU.
 */
let lastIsoMs = Number.NaN
let lastIso = ''
function isoAt(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString()
    lastIsoMs = ms
  }
  return lastIso
}

function checkPriority(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 9)
    throw new ConfigError(`priority must be an integer from 0 to 9, got ${p}`)
}

/**
 * Creates an app.
 *
 * @example
 * export const app = createApp({ broker: process.env.CELERIAC_BROKER ?? 'sqlite://./celeriac.db' })
 * export const add = app.task('math.add', (_ctx, a: number, b: number) => a + b)
 */
export function createApp(options: AppOptions = {}): App {
  return new App(options)
}

/** Whether a value is a celeriac App (works across copies of the package). */
export function isApp(value: unknown): value is App {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[APP_BRAND] === true
}
