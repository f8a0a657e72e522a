/**
 * In-request background work, as FastAPI's BackgroundTasks: handler code adds functions that run
 * after the response has been sent, in the order added, one after another, in this process.
 *
 * Framework-independent: the Fastify, Hono and Express integrations create one BackgroundTasks per
 * request, call `start()` once the response is out, and call `BackgroundRunner.drain()` on
 * shutdown. Nothing here imports a framework. A failing function is logged and skipped; it never
 * touches the response, the request's other functions or other requests.
 */
import { type Duration, toMs } from '../core/duration.js'
import { ShutdownState, type ResponseLike, type ShutdownClock, type ShutdownReport } from './shutdown.js'

/** The two levels we log at; pino, Fastify's `request.log`, and a task's `ctx.log` all fit. */
export interface BackgroundLogger {
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/**
 * The default logger: writes to the console, pino-style `(obj, msg)` calls.
 *
 * @example
 * new BackgroundRunner({ logger: consoleLogger })
 */
export const consoleLogger: BackgroundLogger = {
  warn: (obj, msg) => console.warn(`[celeriac] ${msg ?? ''}`, obj),
  error: (obj, msg) => console.error(`[celeriac] ${msg ?? ''}`, obj),
}

/** How long shutdown waits for background work unless told otherwise. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000

export interface BackgroundOptions {
  /** Where failures and abandoned work are logged (default: the console). */
  readonly logger?: BackgroundLogger
  /** How long `drain()` waits by default: ms or '30s' (default 30 s). */
  readonly shutdownTimeout?: Duration
}

interface Job {
  readonly name: string
  readonly run: () => unknown
}

/**
 * The background functions of one request. Handlers see it as `req.background` (Fastify,
 * Express) or `c.get('background')` (Hono).
 *
 * @example
 * req.background.add(audit, 'user.created', user.id)          // (event: string, id: number)
 * req.background.add(async () => { await cache.purge('/users') })
 */
export class BackgroundTasks {
  private readonly jobs: Job[] = []
  private current: string | null = null
  private started = false
  private loop: Promise<void> | null = null

  /** @internal Made by `BackgroundRunner.create()`. */
  constructor(private readonly runner: BackgroundRunner) {}

  /**
   * Adds a function to run after the response, with the arguments given (typed from the function).
   * Sync and async functions are both fine; each is awaited before the next one starts.
   *
   * @example
   * req.background.add(sendMail, user.email, 'Welcome!')
   */
  add<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): void {
    if (typeof fn !== 'function') throw new TypeError(`background.add() needs a function, got ${typeof fn}`)
    this.jobs.push({ name: fn.name || '(anonymous)', run: () => fn(...args) })
    if (this.started) this.kick()
  }

  /** Functions added and not yet started. */
  get size(): number {
    return this.jobs.length
  }

  /**
   * Starts running the functions; idempotent. Integrations call it once the response has been
   * sent; handler code should not. Functions added later still run, after those before them.
   * `later: true` waits for the next macrotask first (for runtimes that send the response after
   * the handler returns); the work counts as running for `drain()` from this call on.
   *
   * @example
   * res.once('finish', () => tasks.start())
   */
  start(options: { later?: boolean } = {}): void {
    if (this.started) return
    this.started = true
    this.runner.shutdown.requestEnded(this)
    this.kick(options.later === true)
  }

  /** Resolves when the functions added so far have run (at once when idle). */
  idle(): Promise<void> {
    return this.loop ?? Promise.resolve()
  }

  /** @internal Names of the running and waiting functions, for the shutdown log. */
  describe(): string[] {
    const waiting = this.jobs.map((j) => `${j.name} (not started)`)
    return this.current === null ? waiting : [`${this.current} (running)`, ...waiting]
  }

  private kick(later = false): void {
    if (this.loop || this.jobs.length === 0) return
    if (this.runner.gaveUp) {
      this.runner.abandon(this)
      return
    }
    this.runner.track(this)
    // Either way, leave the caller (a 'finish' listener, the middleware) before running anything.
    const turn = later ? new Promise<void>((resolve) => setTimeout(resolve, 0)) : Promise.resolve()
    this.loop = turn
      .then(() => this.runAll())
      .finally(() => {
        this.loop = null
        this.runner.untrack(this)
        // A function added between the last run and here would otherwise wait for ever.
        if (!this.runner.gaveUp) this.kick()
      })
  }

  private async runAll(): Promise<void> {
    for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
      if (this.runner.gaveUp) {
        this.jobs.unshift(job)
        this.runner.abandon(this)
        return
      }
      this.current = job.name
      try {
        await job.run()
      } catch (err) {
        this.runner.log('error', { err, fn: job.name }, `background function "${job.name}" failed`)
      } finally {
        this.current = null
      }
    }
  }
}

/**
 * Tracks every request's background work in one server, so that shutdown can wait for it.
 *
 * @example
 * const runner = new BackgroundRunner({ shutdownTimeout: '10s' })
 * const tasks = runner.create()
 * tasks.add(console.log, 'after the response')
 * tasks.start()
 * await runner.drain()   // true: everything finished in time
 */
export class BackgroundRunner {
  readonly logger: BackgroundLogger
  readonly shutdownTimeoutMs: number
  /** Open requests and the clock of the shutdown, for the server-closing helpers. */
  readonly shutdown = new ShutdownState()
  private readonly active = new Set<BackgroundTasks>()
  private gaveUpFlag = false
  private abandonedByDrain: readonly string[] = []

  constructor(options: BackgroundOptions = {}) {
    this.logger = options.logger ?? consoleLogger
    this.shutdownTimeoutMs = toMs(options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_MS, 'shutdownTimeout')
  }

  /**
   * A new, empty set of background functions for one request. The request counts as open until
   * `start()`; pass its Node response so that a shutdown can ask for `Connection: close` on it.
   */
  create(response?: ResponseLike): BackgroundTasks {
    const tasks = new BackgroundTasks(this)
    this.shutdown.requestStarted(tasks, response)
    return tasks
  }

  /**
   * Starts the shutdown clock (idempotent: the first call sets the limit). The integrations call
   * it when closing starts, so that `shutdownTimeout` bounds the whole shutdown.
   */
  beginShutdown(timeoutMs: Duration = this.shutdownTimeoutMs): ShutdownClock {
    return this.shutdown.begin(toMs(timeoutMs, 'timeoutMs'))
  }

  /** How the last `close()` went, or null before one (see `ShutdownReport`). */
  get report(): ShutdownReport | null {
    return this.shutdown.report
  }

  /** Requests whose background functions are running or waiting. */
  get pending(): number {
    return this.active.size
  }

  /** Whether a `drain()` gave up: from then on, nothing more is started. */
  get gaveUp(): boolean {
    return this.gaveUpFlag
  }

  /**
   * Waits for all background work, including work that starts while waiting. Without an argument
   * it is the shutdown's drain: it starts the shutdown clock if closing has not (so the limit is
   * `shutdownTimeout` from when closing started) and waits until that deadline; with `timeoutMs`
   * it waits that long from now. Resolves true when all finished; otherwise logs what was
   * abandoned, starts nothing more, and resolves false. Running functions cannot be stopped: they
   * go on until the process exits.
   *
   * @example
   * process.once('SIGTERM', async () => process.exit((await runner.drain()) ? 0 : 1))
   */
  async drain(timeoutMs?: Duration): Promise<boolean> {
    let clock: ShutdownClock
    if (timeoutMs === undefined) clock = this.beginShutdown()
    else {
      const limitMs = toMs(timeoutMs, 'timeoutMs')
      const since = Date.now()
      clock = { since, limitMs, deadline: since + limitMs }
    }
    while (this.active.size > 0) {
      const left = clock.deadline - Date.now()
      if (left <= 0) break
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))
      await Promise.race([Promise.all([...this.active].map((t) => t.idle())), timeout])
      clearTimeout(timer)
    }
    if (this.active.size === 0) return true
    this.gaveUpFlag = true
    const abandoned = [...this.active].flatMap((t) => t.describe())
    this.abandonedByDrain = abandoned
    const waitedMs = Date.now() - clock.since
    // The limit, not the time left: "after 0 ms" would say nothing about what was configured.
    this.log(
      'warn',
      { abandoned, timeoutMs: clock.limitMs, waitedMs },
      `shutdown: gave up on ${abandoned.length} background function(s) after ${waitedMs} ms ` +
        `(limit ${clock.limitMs} ms): ${abandoned.join(', ')}`,
    )
    return false
  }

  /**
   * @internal Records how the shutdown went, once the server is closed and the drain is over.
   * `requestsCut`: requests still open when their connections were closed at the deadline.
   */
  endShutdown(requestsCut: number, drained: boolean): ShutdownReport {
    const clock = this.beginShutdown()
    const abandoned = drained ? [] : this.abandonedByDrain
    this.shutdown.report = {
      finished: requestsCut === 0 && drained,
      requestsCut,
      abandoned,
      timeoutMs: clock.limitMs,
      tookMs: Date.now() - clock.since,
    }
    return this.shutdown.report
  }

  /** @internal */
  track(tasks: BackgroundTasks): void {
    this.active.add(tasks)
  }

  /** @internal */
  untrack(tasks: BackgroundTasks): void {
    this.active.delete(tasks)
  }

  /** @internal Work that would start after a drain gave up is logged, not run. */
  abandon(tasks: BackgroundTasks): void {
    const abandoned = tasks.describe()
    this.log(
      'warn',
      { abandoned },
      `shutdown: not starting ${abandoned.length} background function(s): ${abandoned.join(', ')}`,
    )
  }

  /** @internal A logger that throws must not break the queue. */
  log(level: 'warn' | 'error', obj: object, msg: string): void {
    try {
      this.logger[level](obj, msg)
    } catch {
      // nothing sensible left to do
    }
  }
}
