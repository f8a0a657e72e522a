/**
 * The middle third of running a delivery: the task body under its soft and hard time limits.
 * It needs only the prepared job, so a thread or process pool can run this part alone. Never
 * throws: what the body threw comes back as `{ ok: false, error }`.
 */
import { RetryRequest, SoftTimeLimitExceededError, TimeLimitExceededError } from '../core/errors.js'
import { toMs } from '../core/duration.js'
import type { TaskContext, TaskLogger } from '../core/task.js'
import type { Logger } from './logger.js'
import type { PreparedJob } from './prepare.js'

export type RunResult =
  | { readonly ok: true; readonly value: unknown; readonly startedAt: number }
  | { readonly ok: false; readonly error: unknown; readonly startedAt: number }

export interface RunEnv {
  readonly log: Logger
  /** Abort functions of running tasks, called on cold shutdown. */
  readonly aborts: Set<(reason: unknown) => void>
  /** Makes a run's `ctx.step` (durable steps; see canvas/steps.ts). */
  readonly steps?: (job: PreparedJob) => TaskContext['step']
}

export async function runTask(env: RunEnv, job: PreparedJob): Promise<RunResult> {
  const { msg, task, delivery } = job
  const startedAt = Date.now()
  const [softS, hardS] = msg.timelimit
  const softMs = softS !== null ? softS * 1000 : task.settings.softTimeLimitMs
  const hardMs = hardS !== null ? hardS * 1000 : task.settings.timeLimitMs
  let controller: AbortController | null = null
  const abort = (reason: unknown) => {
    controller ??= new AbortController()
    controller.abort(reason)
  }
  let log: TaskLogger | null = null
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
  }
  env.aborts.add(abort)
  let softTimer: NodeJS.Timeout | undefined
  let hardTimer: NodeJS.Timeout | undefined
  try {
    if (softMs !== null)
      softTimer = setTimeout(() => abort(new SoftTimeLimitExceededError(msg.task, softMs)), softMs)
    const run = Promise.resolve().then(() => task.fn(ctx, ...(job.args as never[])))
    let value: unknown
    if (hardMs === null) value = await run
    else {
      const limitMs = hardMs
      value = await Promise.race([
        run,
        new Promise<never>((_, reject) => {
          hardTimer = setTimeout(() => {
            const err = new TimeLimitExceededError(msg.task, limitMs)
            abort(err)
            reject(err)
          }, limitMs)
        }),
      ])
    }
    return { ok: true, value, startedAt }
  } catch (error) {
    return { ok: false, error, startedAt }
  } finally {
    clearTimeout(softTimer)
    clearTimeout(hardTimer)
    env.aborts.delete(abort)
  }
}
