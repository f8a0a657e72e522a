/**
 * Result records written for a delivery. Every record carries the delivery's fence, so a store
 * drops it once a later delivery of the job has written. Encoding never throws here: a value or
 * error the codec cannot write becomes a record that says so.
 */
import type { Delivery } from '../contracts/broker.js'
import type { ResultRecord } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { encode } from '../core/codec.js'
import { isReady, type TaskState } from '../core/states.js'
import type { Message } from '../core/message.js'
import { renderThrown } from '../core/render.js'

export interface RecordEnv {
  readonly app: App
  readonly worker: string
}

/** Encodes an error; one the codec cannot write (a circular cause, a request object) is reduced. */
export function encodeError(error: unknown): string {
  try {
    return encode(error)
  } catch (err) {
    const reduced = new Error(error instanceof Error ? error.message : renderThrown(error))
    reduced.name = error instanceof Error ? error.name : 'Error'
    if (error instanceof Error && error.stack) reduced.stack = error.stack
    Object.assign(reduced, { unencodable: (err as Error).message })
    return encode(reduced)
  }
}

/**
 * How long a record of `task` in `state` is kept (0: for ever). FAILURE records, dead-lettered
 * ones included, use failureResultExpires (the task's, else the app's) when one is set.
 */
export function keepMs(app: App, task: string, state: TaskState): number {
  const settings = app.getTask(task)?.settings
  const keep = settings?.resultExpiresMs ?? app.resultExpiresMs
  if (state !== 'FAILURE') return keep
  return settings?.failureResultExpiresMs ?? app.failureResultExpiresMs ?? keep
}

export function makeRecord(
  env: RecordEnv,
  msg: Message,
  delivery: Delivery,
  state: TaskState,
  startedAt: number | null,
  fields: { result?: string; error?: unknown; retries?: number },
): ResultRecord {
  const now = Date.now()
  const keep = keepMs(env.app, msg.task, state)
  return {
    id: msg.id,
    state,
    task: msg.task,
    result: fields.result ?? null,
    error: 'error' in fields ? encodeError(fields.error) : null,
    retries: fields.retries ?? msg.retries,
    worker: env.worker,
    startedAt,
    doneAt: isReady(state) ? now : null,
    updatedAt: now,
    expiresAt: keep > 0 ? now + keep : null,
    fence: delivery.fence,
  }
}
