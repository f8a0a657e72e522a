/**
 * The first third of running a delivery, in the worker's own process: decode, look the task up,
 * check limits, expiry and arguments. It either hands back a job ready to run (anywhere: an async
 * slot today, a thread or process pool later) or the delivery's outcome straight away.
 */
import type { Delivery } from '../contracts/broker.js'
import type { App } from '../core/app.js'
import { InvalidArgumentsError, TaskRevokedError, UnknownTaskError } from '../core/errors.js'
import { decodeMessage, peekMessage, type Message } from '../core/message.js'
import { hasFlow } from '../core/flow.js'
import type { Task } from '../core/task.js'
import type { Logger } from './logger.js'
import { makeRecord } from './records.js'
import { renderThrown } from '../core/render.js'
import type { Outcome } from './settle.js'

export interface WorkerEnv {
  readonly app: App
  readonly worker: string
  readonly log: Logger
  /** Deliveries that ended without an outcome (the worker died) before this one is poison. */
  readonly maxDeliveries: number
  /** Log one info line per succeeded task (else at debug). */
  readonly logTasks?: boolean
  /** Task ids revoked (remote control): such a delivery is acknowledged as REVOKED, not run. */
  readonly revoked?: { has(id: string): boolean }
}

export type AnyTask = Task<never[], unknown>

/** A delivery that passed every check, with what its run needs. */
export interface PreparedJob {
  readonly delivery: Delivery
  readonly msg: Message
  readonly task: AnyTask
  readonly args: unknown[]
  /** Whether a result record is written for it. */
  readonly storeResult: boolean
}

function tooLarge(body: string, limit: number): number | null {
  // A UTF-8 byte count is at least the string's length and at most three times it.
  if (body.length * 3 <= limit) return null
  const bytes = body.length > limit ? body.length : Buffer.byteLength(body)
  return bytes > limit ? bytes : null
}

function dead(
  delivery: Delivery,
  reason: string,
  extra: Partial<Extract<Outcome, { kind: 'dead' }>> = {},
): Outcome {
  return { kind: 'dead', delivery, reason, ...extra }
}

export function prepare(env: WorkerEnv, delivery: Delivery): PreparedJob | Outcome {
  const size = tooLarge(delivery.body, env.app.maxMessageBytes)
  if (size !== null) {
    const reason = `message of ${size} bytes is larger than this worker's limit of ${env.app.maxMessageBytes} (maxMessageBytes)`
    env.log.error({ id: delivery.id }, `${reason}; sent to the dead-letter store`)
    return dead(delivery, reason)
  }
  let msg: Message
  try {
    msg = delivery.message ?? decodeMessage(delivery.body)
  } catch (err) {
    const peek = peekMessage(delivery.body)
    env.log.error(
      { id: delivery.id, task: peek.task, reason: (err as Error).message },
      'malformed message sent to the dead-letter store',
    )
    return dead(delivery, (err as Error).message)
  }
  if (msg.id !== delivery.id) {
    const reason = `malformed message: the broker holds it as "${delivery.id}" but its body says "${msg.id}"`
    env.log.error({ id: delivery.id, task: msg.task }, `${reason}; sent to the dead-letter store`)
    // The result is written under the broker's id, the one its sender was given.
    return dead(delivery, reason, {
      result: makeRecord(env, { ...msg, id: delivery.id }, delivery, 'FAILURE', null, {
        error: new Error(reason),
      }),
    })
  }
  if (env.revoked?.has(msg.id)) return revokedOutcome(env, msg, delivery, null, 'revoked before it started')
  // A workflow's tasks always store results: its next steps read them.
  const inFlow = hasFlow(msg)
  const wantResult = !msg.ignore_result || inFlow
  const task = env.app.getTask(msg.task)
  if (!task) {
    const err = new UnknownTaskError(msg.task, env.app.taskNames())
    env.log.error({ id: msg.id, task: msg.task }, `${err.message}; message sent to the dead-letter store`)
    return dead(delivery, err.message, {
      result: wantResult ? makeRecord(env, msg, delivery, 'FAILURE', null, { error: err }) : undefined,
    })
  }
  const storeResult = wantResult && (!task.options.ignoreResult || inFlow)
  // Deliveries that ended in a retry finished; the others ended with the worker (a crash, a kill).
  const unfinished = delivery.deliveries - msg.retries
  if (unfinished > env.maxDeliveries) {
    const reason = `delivered ${unfinished} times without finishing (the worker running it died each time?); limit ${env.maxDeliveries}`
    env.log.error({ id: msg.id, task: msg.task }, reason)
    return dead(delivery, reason, {
      result: storeResult
        ? makeRecord(env, msg, delivery, 'FAILURE', null, { error: new Error(reason) })
        : undefined,
    })
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
        ? makeRecord(env, msg, delivery, 'REVOKED', null, { error: new Error(`expired at ${msg.expires}`) })
        : undefined,
    }
  }
  const v = task.options.validate
  let args = msg.args
  if (v) {
    try {
      args = typeof v === 'function' ? v(args as never) : v.parse(args)
    } catch (cause) {
      const err = new InvalidArgumentsError(
        task.name,
        cause instanceof Error ? cause.message : renderThrown(cause),
        { cause },
      )
      env.log.error(
        { id: msg.id, task: msg.task, err: err.message },
        'arguments rejected; message sent to the dead-letter store',
      )
      return dead(delivery, err.message, {
        result: storeResult ? makeRecord(env, msg, delivery, 'FAILURE', null, { error: err }) : undefined,
      })
    }
  }
  return { delivery, msg, task, args, storeResult }
}

/** A revoked delivery: acknowledged, REVOKED recorded (unless its results are not kept), never retried. */
export function revokedOutcome(
  env: WorkerEnv,
  msg: Message,
  delivery: Delivery,
  startedAt: number | null,
  reason: string,
): Outcome {
  env.log.info({ id: msg.id, task: msg.task }, `task ${reason}; marked REVOKED`)
  const store = !msg.ignore_result && !env.app.getTask(msg.task)?.options.ignoreResult
  return {
    kind: 'ack',
    delivery,
    result: store
      ? makeRecord(env, msg, delivery, 'REVOKED', startedAt, { error: new TaskRevokedError(msg.id, reason) })
      : undefined,
  }
}

export function isPrepared(p: PreparedJob | Outcome): p is PreparedJob {
  return 'task' in p && 'msg' in p
}
