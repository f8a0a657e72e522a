/**
 * The middle third of running a delivery: the task body under its soft and hard time limits.
 * It needs only the prepared job, so a thread or process pool can run this part alone. Never
 * throws: what the body threw comes back as `{ ok: false, error }`.
 */
import { RetryRequest, SoftTimeLimitExceededError, TimeLimitExceededError } from '../core/errors.js'
import { toMs } from '../core/duration.js'
import { encodeProgress } from '../core/progress.js'
import type { TaskContext, TaskLogger } from '../core/task.js'
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

export interface RunEnv {
  readonly log: Logger
  /** Abort functions of running tasks, called on cold shutdown. */
  readonly aborts: Set<(reason: unknown) => void>
  /** Makes a run's `ctx.step` (durable steps; see canvas/steps.ts). */
  readonly steps?: (job: PreparedJob) => TaskContext['step']
  /** Told when a run begins, with how to stop it; the returned function is called when it ends. */
  readonly track?: (job: PreparedJob, startedAt: number, stop: RunStop) => () => void
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

export async function runTask(env: RunEnv, job: PreparedJob): Promise<RunResult> {
  const { msg, task, delivery } = job
  const startedAt = Date.now()
  const { softMs } = limitsOf(job)
  const hardMs = env.externalHardLimit ? null : limitsOf(job).hardMs
  let controller: AbortController | null = null
  const abort = (reason: unknown) => {
    controller ??= new AbortController()
    controller.abort(reason)
  }
  let log: TaskLogger | null = null
  let ended = false
  let step: TaskContext['step'] | null = null
  const ctx: TaskContext = {
    id: msg.id,
    name: msg.task,
    retries: msg.retries,
    deliveries: delivery.deliveries,
    queue: delivery.queue,
    message: msg,
    get signal() {
      controller ??= new AbortController()
      return controller.signal
    },
    get log() {
      return (log ??= env.log.child({ task: msg.task, id: msg.id }))
    },
    step(name, fn) {
      step ??= env.steps
        ? env.steps(job)
        : () => Promise.reject(new Error('this worker has no durable steps'))
      return step(name, fn)
    },
    retry(options) {
      throw new RetryRequest(
        options?.countdown !== undefined ? toMs(options.countdown, 'countdown') : undefined,
        options?.error,
        options?.max,
      )
    },
    progress(value) {
      const encoded = encodeProgress(value)
      // A timer the task left behind reports after it returned: nothing is written then.
      if (!ended) env.progress?.(job, encoded, startedAt)
    },
  }
  env.aborts.add(abort)
  let softTimer: NodeJS.Timeout | undefined
  let hardTimer: NodeJS.Timeout | undefined
  // Ends the run at once, the body left behind: the hard time limit, and revoke --terminate.
  let kill!: (reason: unknown) => void
  const killed = new Promise<never>((_, reject) => (kill = reject))
  const untrack = env.track?.(job, startedAt, {
    abort,
    kill: (reason) => {
      abort(reason)
      kill(reason)
    },
  })
  try {
    if (softMs !== null)
      softTimer = setTimeout(() => abort(new SoftTimeLimitExceededError(msg.task, softMs)), softMs)
    if (hardMs !== null) {
      const limitMs = hardMs
      hardTimer = setTimeout(() => {
        const err = new TimeLimitExceededError(msg.task, limitMs)
        abort(err)
        kill(err)
      }, limitMs)
    }
    const run = Promise.resolve().then(() => task.fn(ctx, ...(job.args as never[])))
    const value: unknown = await Promise.race([run, killed])
    return { ok: true, value, startedAt }
  } catch (error) {
    return { ok: false, error, startedAt }
  } finally {
    ended = true
    clearTimeout(softTimer)
    clearTimeout(hardTimer)
    env.aborts.delete(abort)
    untrack?.()
  }
}
