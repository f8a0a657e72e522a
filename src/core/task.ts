/** Task definitions and the typed handle `app.task()` returns. */
import { toMs, type Duration } from './duration.js'
import { ConfigError, RetryRequest } from './errors.js'
import { flowSettings, type FlowSettings, type FlowTaskOptions } from './flow-options.js'
import type { Message } from './message.js'
import type { AsyncResult } from './result.js'
import { normalizeRetry, type NormalizedRetryPolicy, type RetryPolicy } from './retry.js'
import { Signature, type AnySignature, type Tail } from './signature.js'

/** What a task function sees besides its arguments. */
export interface TaskContext {
  /** Task id (the id of its result). */
  readonly id: string
  /** Registered task name. */
  readonly name: string
  /** How many times this task has been retried before this run. */
  readonly retries: number
  /** How many times this message has been delivered (more than 1 after a worker crash). */
  readonly deliveries: number
  readonly queue: string
  /**
   * Aborted when the soft time limit passes (reason: SoftTimeLimitExceededError), when the hard
   * time limit passes, or when the worker must stop at once. Pass it to fetch, streams and timers.
   */
  readonly signal: AbortSignal
  /** The whole message, read-only. */
  readonly message: Readonly<Message>
  /** A logger bound to this task's name and id. */
  readonly log: TaskLogger
  /**
   * Asks for this task to run again later; call as `throw ctx.retry()` or just `ctx.retry()`.
   * Counts against the task's retry limit unless `max` overrides it.
   */
  retry(options?: { countdown?: Duration; error?: unknown; max?: number }): never
  /**
   * Reports progress: a number (such as 0.42) or a small JSON object (such as `{ done, total }`),
   * at most 4 KiB encoded; anything else throws InvalidProgressError. Stored with the task's
   * result (`result.progress()`) and announced to followers (`result.follow()`, the SSE route).
   * Cheap to call often: writes are coalesced to one per 100 ms per task, the last value always
   * written. Not stored for a task whose result is not stored (ignoreResult).
   *
   * @example
   * for (const [i, row] of rows.entries()) { await load(row); ctx.progress({ done: i + 1, total: rows.length }) }
   */
  progress(value: number | object): void
  /**
   * Runs a durable step: its result is recorded under this task's id and the step's name, and
   * when the task runs again (a retry, or a redelivery after a worker died) a finished step
   * returns the recorded value instead of running again. Needs a result backend; the value must
   * be one the codec can store. Names are unique within a task.
   *
   * @example
   * const charge = await ctx.step('charge-card', () => payments.charge(order))
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>>
}

export interface TaskLogger {
  debug(obj: object | string, msg?: string): void
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
}

export type TaskFn<A extends unknown[], R> = (ctx: TaskContext, ...args: A) => R | Promise<R>

/** Validates decoded arguments; a zod tuple schema fits (`z.tuple([...])`). */
export type ArgsValidator<A extends unknown[]> = ((args: unknown[]) => A) | { parse(args: unknown): A }

export interface TaskOptions<A extends unknown[] = unknown[]> extends FlowTaskOptions<A> {
  /** Queue the task is sent to unless the caller names another (default: the app's default queue). */
  readonly queue?: string
  /** Automatic retries: a count, or a policy (backoff, jitter, which errors). Default: none. */
  readonly retries?: number | RetryPolicy
  /** Hard limit: past it the worker records FAILURE (TimeLimitExceededError) and frees the slot. */
  readonly timeLimit?: Duration
  /** Soft limit: past it the task's `ctx.signal` aborts, so the task can clean up. */
  readonly softTimeLimit?: Duration
  /** Tasks not started within this long after sending are marked REVOKED instead of run. */
  readonly expires?: Duration
  /** 0 to 9, higher first (default 0). */
  readonly priority?: number
  /** Do not store the result (states are not stored either). */
  readonly ignoreResult?: boolean
  /** Store STARTED when a worker begins the task (default: the app's trackStarted, false). */
  readonly trackStarted?: boolean
  /** Keep the result this long (default: the app's resultExpires). */
  readonly resultExpires?: Duration
  /** Keep a FAILURE result this long (default: the app's failureResultExpires, else resultExpires). */
  readonly failureResultExpires?: Duration
  /** Check arguments on the worker before the task runs; failures go to the dead-letter store. */
  readonly validate?: ArgsValidator<A>
}

/** Options for one send, overriding the task's own. */
export interface SendOptions {
  /** Choose the task id (idempotent producers); default a random UUID. */
  readonly id?: string
  /** Run no sooner than this long from now. */
  readonly countdown?: Duration
  /** Run no sooner than this time. */
  readonly eta?: Date | string | number
  /** Do not run after this (a Date, or a duration from now). */
  readonly expires?: Date | Duration
  readonly queue?: string
  readonly priority?: number
  readonly kwargs?: Record<string, unknown>
  readonly headers?: Record<string, string>
  readonly parentId?: string
  readonly rootId?: string
  readonly group?: string
  /**
   * A transaction the caller holds (such as a pg client inside BEGIN): the task is enqueued only
   * if it commits. Only on brokers with `transactionalPublish`; others refuse the send.
   */
  readonly transaction?: unknown
  readonly ignoreResult?: boolean
  /** Sent with the result when the task succeeds (Celery's link). See Signature.link. */
  readonly link?: AnySignature | readonly AnySignature[]
  /** Sent once with a TaskFailure when the task fails for good (Celery's link_error). */
  readonly linkError?: AnySignature | readonly AnySignature[]
}

/** One call in a batch send. */
export interface BatchCall<A extends unknown[]> {
  readonly args: A
  readonly options?: SendOptions
}

/** The task options a producer applies when sending. */
export type SendDefaults = Omit<TaskOptions, 'validate'>

/** The producer side the task handle needs from the app. */
export interface TaskSender {
  send<R>(
    task: string,
    calls: readonly { args: unknown[]; options?: SendOptions }[],
    defaults: SendDefaults,
  ): Promise<AsyncResult<R>[]>
}

/**
 * A registered task. Calling `delay` sends it; `run` calls the function in this process.
 *
 * @example
 * const add = app.task('math.add', (_ctx, a: number, b: number) => a + b)
 * const result = await add.delay(2, 3)      // (a: number, b: number)
 * const sum = await result.get()            // number
 */
export class Task<A extends unknown[] = unknown[], R = unknown> {
  /** The options checked and turned into numbers once, when the task is defined. */
  readonly settings: TaskSettings

  constructor(
    readonly name: string,
    readonly fn: TaskFn<A, R>,
    readonly options: TaskOptions<A>,
    private readonly sender: TaskSender,
  ) {
    this.settings = taskSettings(name, options)
  }

  /**
   * A signature: this call written down for a chain, group, chord or callback. With all the
   * arguments it takes no input; without the first, a step before it supplies that one.
   *
   * @example
   * chain(add.s(2, 2), mul.s(4))   // mul(4, 4)
   */
  s(...args: A): Signature<R, []>
  s(...args: Tail<A>): Signature<R, [A[0]]>
  s(...args: unknown[]): Signature<R, unknown[]> {
    return new Signature<R, unknown[]>(this.name, args, false, sigOptions(this.options), [], [], this.sender)
  }

  /** An immutable signature: it ignores the result of a step before it. */
  si(...args: A): Signature<R, [unknown?]> {
    return new Signature<R, [unknown?]>(this.name, args, true, sigOptions(this.options), [], [], this.sender)
  }

  /** Sends the task with these arguments and the task's default options. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.applyAsync(args)
  }

  /** Sends the task with options: countdown, eta, expires, queue, priority, id, … */
  async applyAsync(args: A, options?: SendOptions): Promise<AsyncResult<R>> {
    const [r] = await this.sender.send<R>(this.name, [{ args, options }], this.options)
    return r!
  }

  /**
   * Sends many calls in one broker round trip. Each item is an argument tuple, or
   * `{ args, options }` for per-call options.
   */
  sendMany(calls: readonly (A | BatchCall<A>)[], options?: SendOptions): Promise<AsyncResult<R>[]> {
    return this.sender.send<R>(
      this.name,
      calls.map((c) =>
        Array.isArray(c)
          ? { args: c as unknown[], options }
          : { args: (c as BatchCall<A>).args, options: { ...options, ...(c as BatchCall<A>).options } },
      ),
      this.options,
    )
  }
}

function sigOptions(o: { readonly queue?: string; readonly priority?: number }): {
  queue?: string
  priority?: number
} {
  return {
    ...(o.queue !== undefined ? { queue: o.queue } : {}),
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
  }
}

/** Thrown from inside a task to retry it; see TaskContext.retry. */
export function retryRequest(options?: { countdown?: number; error?: unknown; max?: number }): RetryRequest {
  return new RetryRequest(options?.countdown, options?.error, options?.max)
}

/** Argument and result types of a task handle, for code that imports task types only. */
export type TaskArgs<T> = T extends Task<infer A, infer _R> ? A : never
export type TaskResult<T> = T extends Task<infer _A, infer R> ? R : never

/** A task's options in the form the worker uses on every run. */
export interface TaskSettings {
  readonly retry: NormalizedRetryPolicy
  readonly softTimeLimitMs: number | null
  readonly timeLimitMs: number | null
  /** Undefined: the app's default. */
  readonly resultExpiresMs: number | undefined
  /** Undefined: the app's failureResultExpires, else resultExpires. */
  readonly failureResultExpiresMs: number | undefined
  /** Rate limits, per-key limits, unique, debounce; null when the task has none. */
  readonly flow: FlowSettings | null
}

function taskSettings<A extends unknown[]>(name: string, o: TaskOptions<A>): TaskSettings {
  const what = (option: string) => `task "${name}": ${option}`
  if (typeof o.retries === 'number' || (o.retries && typeof o.retries === 'object')) {
    const max = typeof o.retries === 'number' ? o.retries : o.retries.max
    if (!Number.isInteger(max) || max < 0)
      throw new ConfigError(
        `${what('retries')} must be a whole number of retries (0 or more), got ${String(max)}`,
      )
  } else if (o.retries !== undefined) {
    throw new ConfigError(`${what('retries')} must be a number or { max, backoff, … }`)
  }
  const r = typeof o.retries === 'object' ? o.retries : undefined
  if (
    r?.backoff !== undefined &&
    typeof r.backoff !== 'function' &&
    !['exponential', 'linear', 'fixed'].includes(r.backoff)
  )
    throw new ConfigError(`${what('retries.backoff')} must be 'exponential', 'linear', 'fixed' or a function`)
  if (r?.on !== undefined && typeof r.on !== 'function' && !Array.isArray(r.on))
    throw new ConfigError(`${what('retries.on')} must be a list of error classes or a function`)
  const ms = (value: Duration | undefined, option: string) =>
    value === undefined ? null : toMs(value, what(option))
  ms(o.expires, 'expires') // checked here; the producer applies it
  return {
    retry: normalizeRetry(o.retries),
    softTimeLimitMs: ms(o.softTimeLimit, 'softTimeLimit'),
    timeLimitMs: ms(o.timeLimit, 'timeLimit'),
    resultExpiresMs: ms(o.resultExpires, 'resultExpires') ?? undefined,
    failureResultExpiresMs: ms(o.failureResultExpires, 'failureResultExpires') ?? undefined,
    flow: flowSettings(name, o as FlowTaskOptions<never[]>),
  }
}
