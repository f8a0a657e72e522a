/**
 * Running one delivery: decode, look the task up, validate, run it under its time limits, and
 * turn what happened into an Outcome for the Settler. Never throws.
 */
import type { Delivery } from '../contracts/broker.js'
import type { ResultRecord } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { encode } from '../core/codec.js'
import { toMs } from '../core/duration.js'
import {
  InvalidArgumentsError,
  MaxRetriesExceededError,
  RetryRequest,
  SoftTimeLimitExceededError,
  TimeLimitExceededError,
  UnknownTaskError,
} from '../core/errors.js'
import { decodeMessage, encodeMessage, peekMessage, type Message } from '../core/message.js'
import { backoffDelay, normalizeRetry, shouldRetry, type NormalizedRetryPolicy } from '../core/retry.js'
import type { TaskState } from '../core/states.js'
import type { Task, TaskContext, TaskLogger } from '../core/task.js'
import type { Outcome } from './settle.js'
import type { Logger } from './logger.js'

export interface ExecuteEnv {
  readonly app: App
  readonly worker: string
  readonly log: Logger
  readonly maxDeliveries: number
  /** Abort functions of running tasks, called on cold shutdown. */
  readonly aborts: Set<(reason: unknown) => void>
  /** Records a STARTED state (batched by the worker). */
  readonly started: (record: ResultRecord) => void
}

type AnyTask = Task<never[], unknown>

const policies = new WeakMap<AnyTask, NormalizedRetryPolicy>()
function policyOf(task: AnyTask): NormalizedRetryPolicy {
  let p = policies.get(task)
  if (!p) policies.set(task, (p = normalizeRetry(task.options.retries)))
  return p
}

function record(
  env: ExecuteEnv,
  msg: Message,
  state: TaskState,
  startedAt: number | null,
  fields: { result?: unknown; error?: unknown; retries?: number },
): ResultRecord {
  const now = Date.now()
  const ready = state === 'SUCCESS' || state === 'FAILURE' || state === 'REVOKED'
  const task = env.app.getTask(msg.task)
  const keep =
    task?.options.resultExpires !== undefined ? toMs(task.options.resultExpires) : env.app.resultExpiresMs
  return {
    id: msg.id,
    state,
    task: msg.task,
    result: 'result' in fields ? encode(fields.result ?? null) : null,
    error: 'error' in fields ? encode(fields.error) : null,
    retries: fields.retries ?? msg.retries,
    worker: env.worker,
    startedAt,
    doneAt: ready ? now : null,
    updatedAt: now,
    expiresAt: keep > 0 ? now + keep : null,
  }
}

function validateArgs(task: AnyTask, args: unknown[]): unknown[] {
  const v = task.options.validate
  if (!v) return args
  try {
    return typeof v === 'function' ? v(args) : v.parse(args)
  } catch (err) {
    throw new InvalidArgumentsError(task.name, (err as Error).message, { cause: err })
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** Runs a delivery and returns what to do with it. */
export async function execute(env: ExecuteEnv, delivery: Delivery): Promise<Outcome> {
  let msg: Message
  try {
    msg = decodeMessage(delivery.body)
  } catch (err) {
    const peek = peekMessage(delivery.body)
    env.log.error(
      { id: delivery.id, task: peek.task, reason: (err as Error).message },
      'malformed message sent to the dead-letter store',
    )
    return { kind: 'dead', delivery, reason: (err as Error).message }
  }
  const wantResult = !msg.ignore_result
  const task = env.app.getTask(msg.task)
  if (!task) {
    const err = new UnknownTaskError(msg.task, env.app.taskNames())
    env.log.error({ id: msg.id, task: msg.task }, `${err.message}; message sent to the dead-letter store`)
    return {
      kind: 'dead',
      delivery,
      reason: err.message,
      result: wantResult ? record(env, msg, 'FAILURE', null, { error: err }) : undefined,
    }
  }
  const storeResult = wantResult && !task.options.ignoreResult
  if (delivery.deliveries > env.maxDeliveries) {
    const reason = `delivered ${delivery.deliveries} times without finishing (the worker running it died each time?); limit ${env.maxDeliveries}`
    env.log.error({ id: msg.id, task: msg.task }, reason)
    return {
      kind: 'dead',
      delivery,
      reason,
      result: storeResult ? record(env, msg, 'FAILURE', null, { error: new Error(reason) }) : undefined,
    }
  }
  if (msg.expires !== null && Date.parse(msg.expires) < Date.now()) {
    env.log.info(
      { id: msg.id, task: msg.task, expires: msg.expires },
      'task expired before it started; marked REVOKED',
    )
    return {
      kind: 'ack',
      delivery,
      result: storeResult
        ? record(env, msg, 'REVOKED', null, { error: new Error(`expired at ${msg.expires}`) })
        : undefined,
    }
  }
  let args: unknown[]
  try {
    args = validateArgs(task, msg.args)
  } catch (err) {
    env.log.error(
      { id: msg.id, task: msg.task, err },
      'arguments rejected; message sent to the dead-letter store',
    )
    return {
      kind: 'dead',
      delivery,
      reason: (err as Error).message,
      result: storeResult ? record(env, msg, 'FAILURE', null, { error: err }) : undefined,
    }
  }

  const startedAt = Date.now()
  if (storeResult && (task.options.trackStarted ?? env.app.trackStarted))
    env.started(record(env, msg, 'STARTED', startedAt, {}))
  try {
    const value = await runWithLimits(env, task, msg, delivery, args)
    env.log.debug({ id: msg.id, task: msg.task, ms: Date.now() - startedAt }, 'task succeeded')
    return {
      kind: 'ack',
      delivery,
      result: storeResult ? record(env, msg, 'SUCCESS', startedAt, { result: value }) : undefined,
    }
  } catch (err) {
    return failed(env, task, msg, delivery, err, startedAt, storeResult)
  }
}

function failed(
  env: ExecuteEnv,
  task: AnyTask,
  msg: Message,
  delivery: Delivery,
  err: unknown,
  startedAt: number,
  storeResult: boolean,
): Outcome {
  const policy = policyOf(task)
  const requested = err instanceof RetryRequest
  const cause = requested ? (err.reason ?? err) : err
  const max = requested ? (err.max ?? (policy.max > 0 ? policy.max : 3)) : policy.max
  const retry = msg.retries + 1
  if (retry <= max && (requested || shouldRetry(policy, err))) {
    const delayMs =
      requested && err.countdownMs !== undefined ? err.countdownMs : backoffDelay(policy, retry, err)
    env.log.warn(
      { id: msg.id, task: msg.task, retry, max, delayMs, err: describe(cause) },
      'task will be retried',
    )
    const body = encodeMessage({ ...msg, retries: retry }, Number.MAX_SAFE_INTEGER)
    return {
      kind: 'retry',
      delivery,
      body,
      delayMs,
      result: storeResult
        ? record(env, msg, 'RETRY', startedAt, { error: cause, retries: retry })
        : undefined,
    }
  }
  const final = msg.retries > 0 ? new MaxRetriesExceededError(msg.task, msg.retries, { cause }) : cause
  const error = msg.retries > 0 && cause instanceof Error ? cause : final
  env.log.error({ id: msg.id, task: msg.task, retries: msg.retries, err: describe(cause) }, 'task failed')
  return {
    kind: 'dead',
    delivery,
    reason:
      msg.retries > 0
        ? `failed after ${msg.retries} retries: ${describe(cause)}`
        : `failed: ${describe(cause)}`,
    result: storeResult ? record(env, msg, 'FAILURE', startedAt, { error }) : undefined,
  }
}

async function runWithLimits(
  env: ExecuteEnv,
  task: AnyTask,
  msg: Message,
  delivery: Delivery,
  args: unknown[],
): Promise<unknown> {
  const [softS, hardS] = msg.timelimit
  const softMs =
    softS !== null
      ? softS * 1000
      : task.options.softTimeLimit !== undefined
        ? toMs(task.options.softTimeLimit)
        : null
  const hardMs =
    hardS !== null ? hardS * 1000 : task.options.timeLimit !== undefined ? toMs(task.options.timeLimit) : null
  let controller: AbortController | null = null
  const abort = (reason: unknown) => {
    controller ??= new AbortController()
    controller.abort(reason)
  }
  let log: TaskLogger | null = null
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
    const run = Promise.resolve().then(() => task.fn(ctx, ...(args as never[])))
    if (hardMs === null) return await run
    const limitMs = hardMs
    return await Promise.race([
      run,
      new Promise<never>((_, reject) => {
        hardTimer = setTimeout(() => {
          const err = new TimeLimitExceededError(msg.task, limitMs)
          abort(err)
          reject(err)
        }, limitMs)
      }),
    ])
  } finally {
    clearTimeout(softTimer)
    clearTimeout(hardTimer)
    env.aborts.delete(abort)
  }
}
