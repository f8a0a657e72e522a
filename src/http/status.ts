/**
 * The task status route shared by the Fastify, Hono and Express integrations: `GET /tasks/:id`
 * answers the stored state of a task as JSON. Framework-independent: each integration only maps
 * `taskStatus()`'s `{ status, body }` onto its reply.
 */
import type { App } from '../core/app.js'
import { decode } from '../core/codec.js'
import { CeleriacError } from '../core/errors.js'
import { decodeError } from '../core/result.js'
import type { TaskState } from '../core/states.js'

/** Where the status route is mounted unless told otherwise. */
export const DEFAULT_STATUS_PREFIX = '/tasks'

/** Longest task id the route accepts. */
export const MAX_TASK_ID_LENGTH = 200

export interface TaskStatusOptions {
  /** Path prefix of the route (default '/tasks', giving `GET /tasks/:id`). */
  readonly prefix?: string
  /** Include the task error's stack trace in answers (default false: stacks show internals). */
  readonly includeStack?: boolean
}

/** The JSON body of a status answer. Times are ISO-8601 strings, or null when not reached. */
export interface TaskStatusBody {
  readonly id: string
  readonly state: TaskState
  /** The return value, for SUCCESS, made JSON-friendly (see `toJsonSafe`). */
  readonly result?: unknown
  /** The error, for FAILURE, RETRY and REVOKED. */
  readonly error?: { readonly name: string; readonly message: string; readonly stack?: string }
  readonly retries: number
  readonly task: string | null
  readonly startedAt: string | null
  readonly doneAt: string | null
  readonly updatedAt: string | null
}

/** The body of a 400 answer. */
export interface TaskStatusProblem {
  readonly error: { readonly name: string; readonly code: string; readonly message: string }
}

export type TaskStatusAnswer =
  | { readonly status: 200; readonly body: TaskStatusBody }
  | { readonly status: 400; readonly body: TaskStatusProblem }

/**
 * A task id the status route cannot look up: empty or too long.
 *
 * @example
 * try { checkTaskId('') } catch (e) { if (e instanceof InvalidTaskIdError) console.log(e.message) }
 */
export class InvalidTaskIdError extends CeleriacError {
  override readonly code = 'INVALID_TASK_ID'
  constructor(
    readonly id: string,
    reason: string,
  ) {
    super(
      `invalid task id: ${reason}; a task id is 1 to ${MAX_TASK_ID_LENGTH} characters, as returned by delay() (result.id)`,
    )
  }
}

/**
 * Throws InvalidTaskIdError unless `id` is a usable task id.
 *
 * @example
 * checkTaskId(result.id)
 */
export function checkTaskId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidTaskIdError('', 'it is empty')
  if (id.length > MAX_TASK_ID_LENGTH)
    throw new InvalidTaskIdError(id.slice(0, 40), `it is ${id.length} characters long`)
}

/**
 * Normalizes a route prefix: a leading slash, no trailing one ('' mounts at the root).
 *
 * @example
 * normalizePrefix('jobs/') // '/jobs'
 */
export function normalizePrefix(prefix: string = DEFAULT_STATUS_PREFIX): string {
  const trimmed = prefix.replace(/\/+$/, '')
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`
}

/**
 * Turns a decoded value into one JSON shows faithfully: BigInt → decimal string, Date → ISO
 * string (invalid → null), Buffer/Uint8Array → base64 string, Map → array of [key, value] pairs,
 * Set → array, Error → {name, message}, undefined in arrays → null. Plain data is copied as is.
 *
 * @example
 * toJsonSafe(new Map([['a', 1n]])) // [['a', '1']]
 */
export function toJsonSafe(value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return value.toString()
    case 'undefined':
    case 'function':
    case 'symbol':
      return null
    case 'number':
      return Number.isFinite(value) ? value : null
    case 'object': {
      if (value === null) return null
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
      if (value instanceof Uint8Array)
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
      if (value instanceof Map) return [...value.entries()].map(([k, v]) => [toJsonSafe(k), toJsonSafe(v)])
      if (value instanceof Set) return [...value.values()].map(toJsonSafe)
      if (value instanceof Error) return { name: value.name, message: value.message }
      if (Array.isArray(value)) return value.map(toJsonSafe)
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonSafe(v)
      return out
    }
    default:
      return value
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

/**
 * Looks a task up and builds the status answer. An id never seen answers PENDING, as in Celery:
 * it cannot be told from a task still queued. Store errors (including "this app has no result
 * backend") are thrown for the framework's error handler.
 *
 * @example
 * const { status, body } = await taskStatus(app, req.params.id)
 * res.status(status).json(body)
 */
export async function taskStatus(
  app: App,
  id: unknown,
  options: TaskStatusOptions = {},
): Promise<TaskStatusAnswer> {
  try {
    checkTaskId(id)
  } catch (err) {
    if (!(err instanceof InvalidTaskIdError)) throw err
    return { status: 400, body: { error: { name: err.name, code: err.code, message: err.message } } }
  }
  const rec = await app.asyncResult(id).record()
  if (!rec)
    return {
      status: 200,
      body: { id, state: 'PENDING', retries: 0, task: null, startedAt: null, doneAt: null, updatedAt: null },
    }
  const body: { -readonly [K in keyof TaskStatusBody]: TaskStatusBody[K] } = {
    id,
    state: rec.state,
    retries: rec.retries,
    task: rec.task,
    startedAt: iso(rec.startedAt),
    doneAt: iso(rec.doneAt),
    updatedAt: iso(rec.updatedAt),
  }
  if (rec.state === 'SUCCESS') body.result = rec.result === null ? null : toJsonSafe(decode(rec.result))
  if (rec.error !== null) {
    const err = decodeError(rec.error, `task ${id} ended in ${rec.state}`)
    body.error =
      options.includeStack && err.stack
        ? { name: err.name, message: err.message, stack: err.stack }
        : { name: err.name, message: err.message }
  }
  return { status: 200, body }
}
