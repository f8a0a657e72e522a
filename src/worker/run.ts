/**
 * The middle third of running a delivery: the task body under its soft and hard time limits.
 * It needs only the prepared job, so a thread or process pool can run this part alone. Never
 * throws: what the body threw comes back as `{ ok: false, error }`.
 */
import { RetryRequest, SoftTimeLimitExceededError, TimeLimitExceededError } from '../core/errors.js'
import { toMs } from '../core/duration.js'
import { encodeProgress } from '../core/progress.js'
import type { TaskContext, TaskLogger } from '../core/task.js'
import type { Duration } from '../core/duration.js'
import type { Message } from '../core/message.js'
import type { Logger } from './logger.js'
import type { PreparedJob } from './prepare.js'

export type RunResult =
  | { readonly ok: true; readonly value: unknown; readonly startedAt: number }
  | {
      readonly ok: false
      readonly error: unknown
      readonly startedAt: number
      /**
       * Whether the task's retry policy (`retries.on`) takes this error, decided where it was
       * thrown: a pool's child, where the error still has its class. Absent: decide here.
       */
      readonly retryable?: boolean
    }

/** Stops a running task from outside (revoke): `abort` aborts its signal, `kill` also ends the run now. */
export interface RunStop {
  abort(reason: unknown): void
  kill(reason: unknown): void
}

/** A run as the worker tracks it (remote control, revoke). */
export interface TrackedRun {
  readonly job: PreparedJob
  readonly startedAt: number
  readonly stop: RunStop
}

export interface RunEnv {
  readonly log: Logger
  /** Running tasks, aborted on cold shutdown. */
  readonly aborts: Set<{ abort(reason: unknown): void }>
  /** Makes a run's `ctx.step` (durable steps; see canvas/steps.ts). */
  readonly steps?: (job: PreparedJob) => TaskContext['step']
  /** Told when a run begins, with how to stop it, and when it ends (the same object). */
  readonly track?: (run: TrackedRun) => void
  readonly untrack?: (run: TrackedRun) => void
  /** Takes a checked, encoded value the task reported with `ctx.progress()` (see progress.ts). */
  readonly progress?: (job: PreparedJob, encoded: string, startedAt: number) => void
  /**
   * The hard time limit is enforced outside this call (a pool kills the thread or process that
   * runs it), so the body is not raced against it here.
   */
  readonly externalHardLimit?: boolean
}

/**
 * Runs prepared jobs somewhere other than the worker's event loop: a thread or process pool
 * (src/pool). Given to the worker as `WorkerOptions.pool`.
 */
export interface TaskRunner {
  /** 'threads', 'processes': shown in the banner and logs. */
  readonly kind: string
  start(): Promise<void>
  run(env: RunEnv, job: PreparedJob): Promise<RunResult>
  /** Called once the worker has nothing running any more. */
  close(): Promise<void>
  /** Kills what runs task `id` (revoke --terminate); false when it runs no such task. */
  terminate?(id: string): boolean
  /** Adds or retires children as remote control changes the worker's concurrency. */
  grow?(n: number): number
  shrink?(n: number): number
}

/** The soft and hard time limits of a job in ms (the message's own, else the task's). */
export function limitsOf(job: PreparedJob): { softMs: number | null; hardMs: number | null } {
  const [softS, hardS] = job.msg.timelimit
  return {
    softMs: softS !== null ? softS * 1000 : job.task.settings.softTimeLimitMs,
    hardMs: hardS !== null ? hardS * 1000 : job.task.settings.timeLimitMs,
  }
}

/**
 * One run of a task body in this event loop: the task's context (`ctx`), and how to stop it from
 * outside. One object per run, with its methods on the prototype, since it is made for every task.
 */
class AsyncRun implements TaskContext, RunStop {
  readonly id: string
  readonly name: string
  readonly retries: number
  readonly deliveries: number
  readonly queue: string
  readonly message: Message
  readonly startedAt = Date.now()
  ended = false
  private controller: AbortController | null = null
  private logger: TaskLogger | null = null
  private stepFn: TaskContext['step'] | null = null
  /** Ends the run at once (set while the body is awaited with a way out). */
  private killRun: ((reason: unknown) => void) | null = null
  private killedWith: { reason: unknown } | null = null

  constructor(
    private readonly env: RunEnv,
    readonly job: PreparedJob,
  ) {
    const { msg, delivery } = job
    this.id = msg.id
    this.name = msg.task
    this.retries = msg.retries
    this.deliveries = delivery.deliveries
    this.queue = delivery.queue
    this.message = msg
  }

  get stop(): RunStop {
    return this
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController()
    return this.controller.signal
  }

  get log(): TaskLogger {
    return (this.logger ??= this.env.log.child({ task: this.name, id: this.id }))
  }

  step<T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>> {
    this.stepFn ??= this.env.steps
      ? this.env.steps(this.job)
      : () => Promise.reject(new Error('this worker has no durable steps'))
    return this.stepFn(name, fn)
  }

  retry(options?: { countdown?: Duration; error?: unknown; max?: number }): never {
    throw new RetryRequest(
      options?.countdown !== undefined ? toMs(options.countdown, 'countdown') : undefined,
      options?.error,
      options?.max,
    )
  }

  progress(value: number | object): void {
    const encoded = encodeProgress(value)
    // A timer the task left behind reports after it returned: nothing is written then.
    if (!this.ended) this.env.progress?.(this.job, encoded, this.startedAt)
  }

  abort(reason: unknown): void {
    this.controller ??= new AbortController()
    this.controller.abort(reason)
  }

  /** Aborts the signal and ends the run now, the body left behind (hard limit, terminate). */
  kill(reason: unknown): void {
    this.abort(reason)
    if (this.killedWith) return
    this.killedWith = { reason }
    this.killRun?.(reason)
  }

  /** The body's value; a body that returns a promise is raced against kill(). */
  async body(): Promise<unknown> {
    const value: unknown = this.job.task.fn(this, ...(this.job.args as never[]))
    if (this.killedWith) throw this.killedWith.reason
    if (!isThenable(value)) return value
    return new Promise((resolve, reject) => {
      this.killRun = reject
      value.then(resolve, reject)
    })
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  )
}

export async function runTask(env: RunEnv, job: PreparedJob): Promise<RunResult> {
  const run = new AsyncRun(env, job)
  const { softMs } = limitsOf(job)
  const hardMs = env.externalHardLimit ? null : limitsOf(job).hardMs
  const task = job.msg.task
  const startedAt = run.startedAt
  env.aborts.add(run)
  env.track?.(run)
  let softTimer: NodeJS.Timeout | undefined
  let hardTimer: NodeJS.Timeout | undefined
  try {
    if (softMs !== null)
      softTimer = setTimeout(() => run.abort(new SoftTimeLimitExceededError(task, softMs)), softMs)
    if (hardMs !== null) {
      const limitMs = hardMs
      hardTimer = setTimeout(() => run.kill(new TimeLimitExceededError(task, limitMs)), limitMs)
    }
    const value = await run.body()
    return { ok: true, value, startedAt }
  } catch (error) {
    return { ok: false, error, startedAt }
  } finally {
    run.ended = true
    if (softTimer) clearTimeout(softTimer)
    if (hardTimer) clearTimeout(hardTimer)
    env.aborts.delete(run)
    env.untrack?.(run)
  }
}
