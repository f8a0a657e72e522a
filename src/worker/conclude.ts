/**
 * The last third of running a delivery, in the worker's own process: turn what the body did into
 * an Outcome for the Settler: SUCCESS, a retry by the task's policy, or a final FAILURE. User
 * callbacks of the policy (`retries.on`, a backoff function) are guarded: one that throws means
 * no retry, logged, never a crashed worker.
 */
import { encode } from '../core/codec.js'
import { EncodeError, MaxRetriesExceededError, ResultTooLargeError, RetryRequest } from '../core/errors.js'
import { encodeMessage } from '../core/message.js'
import { backoffDelay, shouldRetry } from '../core/retry.js'
import type { PreparedJob, WorkerEnv } from './prepare.js'
import { makeRecord } from './records.js'
import { renderThrown, toError } from '../core/render.js'
import type { RunResult } from './run.js'
import type { Outcome } from './settle.js'

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : renderThrown(err)
}

export function conclude(env: WorkerEnv, job: PreparedJob, run: RunResult): Outcome {
  const { delivery, msg, storeResult } = job
  if (run.ok) {
    let result: string | undefined
    if (storeResult) {
      try {
        result = encode(run.value ?? null)
      } catch (err) {
        const error = new EncodeError(
          `task "${msg.task}" returned a value that cannot be stored: ${(err as Error).message}`,
          { cause: err },
        )
        return failed(env, job, error, run.startedAt, `failed: ${error.message}`)
      }
      const limit = env.app.maxResultBytes
      if (result.length * 3 > limit && Buffer.byteLength(result) > limit) {
        const error = new ResultTooLargeError(msg.task, Buffer.byteLength(result), limit)
        return failed(env, job, error, run.startedAt, `failed: ${error.message}`)
      }
    }
    // One line per finished task at info, as Celery's worker prints, where someone reads it: it
    // costs 6-23 % of a no-op task's throughput on Redis, so by default only on a terminal.
    if (env.logTasks || env.log.isLevelEnabled('debug')) {
      const line = { task: msg.task, id: msg.id, state: 'SUCCESS', ms: Date.now() - run.startedAt }
      if (env.logTasks) env.log.info(line, 'task succeeded')
      else env.log.debug(line, 'task succeeded')
    }
    return {
      kind: 'ack',
      delivery,
      result: storeResult ? makeRecord(env, msg, delivery, 'SUCCESS', run.startedAt, { result }) : undefined,
    }
  }
  return retryOrFail(env, job, run.error, run.startedAt, run.retryable)
}

function retryOrFail(
  env: WorkerEnv,
  job: PreparedJob,
  err: unknown,
  startedAt: number,
  retryable: boolean | undefined,
): Outcome {
  const { delivery, msg, task, storeResult } = job
  const policy = task.settings.retry
  const requested = err instanceof RetryRequest
  const cause = toError(requested ? (err.reason ?? err) : err)
  const max = requested ? (err.max ?? (policy.max > 0 ? policy.max : 3)) : policy.max
  const retry = msg.retries + 1
  let delayMs: number | null = null
  if (retry <= max) {
    try {
      if (requested || (retryable ?? shouldRetry(policy, err)))
        delayMs =
          requested && err.countdownMs !== undefined ? err.countdownMs : backoffDelay(policy, retry, err)
      if (delayMs !== null && !Number.isFinite(delayMs))
        throw new TypeError(`backoff returned ${String(delayMs)}`)
    } catch (hookErr) {
      env.log.error(
        { id: msg.id, task: msg.task, err: describeError(hookErr) },
        'the retry policy threw (retries.on or backoff); not retrying',
      )
      delayMs = null
    }
  }
  if (delayMs !== null) {
    env.log.warn(
      { id: msg.id, task: msg.task, retry, max, delayMs, err: describeError(cause) },
      'task will be retried',
    )
    return {
      kind: 'retry',
      delivery,
      body: encodeMessage({ ...msg, retries: retry }, Number.MAX_SAFE_INTEGER),
      delayMs: Math.max(0, delayMs),
      reason: describeError(cause),
      result: storeResult
        ? makeRecord(env, msg, delivery, 'RETRY', startedAt, { error: cause, retries: retry })
        : undefined,
    }
  }
  const final = msg.retries > 0 ? new MaxRetriesExceededError(msg.task, msg.retries, { cause }) : cause
  const error = msg.retries > 0 ? cause : final
  const reason =
    msg.retries > 0
      ? `failed after ${msg.retries} retries: ${describeError(cause)}`
      : `failed: ${describeError(cause)}`
  return failed(env, job, error, startedAt, reason)
}

function failed(
  env: WorkerEnv,
  job: PreparedJob,
  error: unknown,
  startedAt: number,
  reason: string,
): Outcome {
  const { delivery, msg, storeResult } = job
  env.log.error({ id: msg.id, task: msg.task, retries: msg.retries, err: reason }, 'task failed')
  return {
    kind: 'dead',
    delivery,
    reason,
    result: storeResult ? makeRecord(env, msg, delivery, 'FAILURE', startedAt, { error }) : undefined,
  }
}
