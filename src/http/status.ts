/**
 * The task status route shared by the Fastify, Hono and Express integrations: `GET /tasks/:id`
 * answers the stored state of a task as JSON. Framework-independent: `taskStatus()` returns
 * `{ status, headers, body, json }` and each integration only copies it onto its reply, so the
 * three answer byte for byte the same, and an app can build its own route on it.
 *
 * The route is meant to be reachable from outside: store errors answer a fixed 503 (never the
 * store's message, which names hosts, ports and users), answers are never cached, and hooks let
 * the app decide who may read what.
 */
import { toJsonSafe } from '../core/render.js'
import type { ResultRecord } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { decode } from '../core/codec.js'
import { progressOf } from '../core/progress.js'
import { decodeError } from '../core/result.js'
import type { TaskState } from '../core/states.js'
import type { TaskEventsOptions } from './events.js'
import { consoleLogger } from './background.js'
import { checkTaskId, InvalidTaskIdError, parseIdSegment } from './task-id.js'

export {
  checkTaskId,
  DEFAULT_STATUS_PREFIX,
  InvalidTaskIdError,
  MAX_TASK_ID_LENGTH,
  normalizePrefix,
} from './task-id.js'

/** Options of the status route; `Req` is the framework's request (Hono: the Context). */
export interface TaskStatusOptions<Req = unknown> {
  /** Path prefix of the route (default '/tasks', giving `GET /tasks/:id`). */
  readonly prefix?: string
  /** Include the task error's stack trace in answers (default false: stacks show internals). */
  readonly includeStack?: boolean
  /**
   * Leave the error message (and stack) out: `error` is `{ name }` only (default false). Error
   * messages often carry what the task was working on: ids, paths, even connection strings.
   */
  readonly hideErrorMessages?: boolean
  /**
   * Whether this request may read this task; `record` is null for an id with nothing stored.
   * A denial answers 404 `TASK_NOT_FOUND`, the same as for a task the caller may not know of.
   * It may throw the framework's own HTTP errors (a 401, say); those go to its error handler.
   */
  readonly authorize?: (req: Req, record: ResultRecord | null, id: string) => boolean | Promise<boolean>
  /**
   * Shapes the 200 answer: receives the body the route would send and returns what to send
   * instead (anything JSON.stringify takes). `stored` is the raw record (null: nothing stored).
   */
  readonly serialize?: (body: TaskStatusBody, req: Req, stored: ResultRecord | null) => unknown
  /** Where store errors are logged, since the answer does not say (default: the console). */
  readonly logger?: { error(obj: object, msg?: string): void }
  /**
   * The server-sent events route `GET <prefix>/:id/events`, which streams the same body on each
   * change of state or progress, with the same hooks (default on; false leaves it out). See
   * `taskEvents`.
   */
  readonly events?: boolean | TaskEventsOptions
}

/** The JSON body of a status answer. Times are ISO-8601 strings, or null when not reached. */
export interface TaskStatusBody {
  readonly id: string
  readonly state: TaskState
  /** The return value, for SUCCESS, made JSON-friendly (see `toJsonSafe`). */
  readonly result?: unknown
  /** The progress the task last reported, while it runs (see `ctx.progress`), made JSON-friendly. */
  readonly progress?: unknown
  /** The error, for FAILURE, RETRY and REVOKED (only `name` with `hideErrorMessages`). */
  readonly error?: { readonly name: string; readonly message?: string; readonly stack?: string }
  readonly retries: number
  readonly task: string | null
  readonly startedAt: string | null
  readonly doneAt: string | null
  readonly updatedAt: string | null
}

/** The body of every answer but a 200. */
export interface TaskStatusProblem {
  readonly error: { readonly name: string; readonly code: string; readonly message: string }
}

/** The headers of every answer: JSON in UTF-8, never cached, never sniffed as something else. */
export const TASK_STATUS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
})

interface AnswerParts {
  readonly headers: Readonly<Record<string, string>>
  /** `body` as JSON text: send this, as it is. */
  readonly json: string
}

/** What the route sends. The body of a 200 is a TaskStatusBody unless `serialize` made another. */
export type TaskStatusAnswer = AnswerParts &
  (
    | { readonly status: 200; readonly body: unknown }
    | { readonly status: 400 | 404 | 500 | 503; readonly body: TaskStatusProblem }
  )

/** The fixed answer when the result store cannot be read (down, unreachable, not configured). */
export const STORE_UNAVAILABLE: TaskStatusProblem = {
  error: {
    name: 'ResultStoreUnavailableError',
    code: 'RESULT_STORE_UNAVAILABLE',
    message: 'task results cannot be read right now; try again later',
  },
}

/** The answer to a request `authorize` turned down. */
export const TASK_NOT_FOUND: TaskStatusProblem = {
  error: { name: 'TaskNotFoundError', code: 'TASK_NOT_FOUND', message: 'no such task' },
}

/** The answer when a stored record cannot be decoded. */
export const STATUS_FAILED: TaskStatusProblem = {
  error: {
    name: 'TaskStatusError',
    code: 'TASK_STATUS_FAILED',
    message: 'the task status could not be read',
  },
}

/** @internal Builds an answer with its headers and JSON text. */
export function answer(status: 200, body: unknown): TaskStatusAnswer
export function answer(status: 400 | 404 | 500 | 503, body: TaskStatusProblem): TaskStatusAnswer
export function answer(status: 200 | 400 | 404 | 500 | 503, body: unknown): TaskStatusAnswer {
  // JSON.stringify(undefined) is undefined: a serialize hook that returns nothing sends null.
  const json = JSON.stringify(body) ?? 'null'
  return { status, body, headers: TASK_STATUS_HEADERS, json } as TaskStatusAnswer
}

/** @internal The 400 for an id that is not one. */
export function invalid(err: InvalidTaskIdError): TaskStatusAnswer {
  return answer(400, { error: { name: err.name, code: err.code, message: err.message } })
}

export { toJsonSafe }

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

/** @internal The body of a 200 for a stored record (null: nothing stored), before `serialize`. */
export function statusBody<Req>(
  id: string,
  rec: ResultRecord | null,
  options: TaskStatusOptions<Req>,
): TaskStatusBody {
  if (!rec)
    return { id, state: 'PENDING', retries: 0, task: null, startedAt: null, doneAt: null, updatedAt: null }
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
  const progress = progressOf(rec)
  if (progress !== null) body.progress = toJsonSafe(progress)
  if (rec.error !== null) {
    const err = decodeError(rec.error, `task ${id} ended in ${rec.state}`)
    if (options.hideErrorMessages) body.error = { name: err.name }
    else if (options.includeStack && err.stack)
      body.error = { name: err.name, message: err.message, stack: err.stack }
    else body.error = { name: err.name, message: err.message }
  }
  return body
}

/** @internal Logs through the route's logger, never throwing. */
export function logFailure<Req>(
  options: TaskStatusOptions<Req>,
  err: unknown,
  id: string,
  msg: string,
): void {
  try {
    ;(options.logger ?? consoleLogger).error({ err, id }, msg)
  } catch {
    // a logger that throws must not turn the fixed answer into a stack trace
  }
}

/**
 * Looks a task up and builds the status answer. An id never seen answers PENDING, as in Celery:
 * it cannot be told from a task still queued. A bad id answers 400, a store that cannot be read
 * (down, unreachable, or no result backend) a fixed 503, a denial by `authorize` 404; errors
 * thrown by the hooks are left to the caller. `req` is handed to the hooks.
 *
 * @example
 * api.get('/me/tasks/:id', async (req, res) => {
 *   const answer = await taskStatus(app, req.params.id, { hideErrorMessages: true }, req)
 *   res.status(answer.status).set(answer.headers).send(answer.json)
 * })
 */
export async function taskStatus<Req>(
  app: App,
  id: unknown,
  options: TaskStatusOptions<Req> = {},
  req?: Req,
): Promise<TaskStatusAnswer> {
  try {
    checkTaskId(id)
  } catch (err) {
    if (err instanceof InvalidTaskIdError) return invalid(err)
    throw err
  }
  let rec: ResultRecord | null
  try {
    rec = await app.asyncResult(id).record()
  } catch (err) {
    logFailure(options, err, id, 'task status: the result store cannot be read')
    return answer(503, STORE_UNAVAILABLE)
  }
  if (options.authorize && !(await options.authorize(req as Req, rec, id))) return answer(404, TASK_NOT_FOUND)
  let body: TaskStatusBody
  try {
    body = statusBody(id, rec, options)
  } catch (err) {
    logFailure(options, err, id, 'task status: the stored record cannot be decoded')
    return answer(500, STATUS_FAILED)
  }
  return answer(200, options.serialize ? await options.serialize(body, req as Req, rec) : body)
}

/**
 * The 400 for a raw last path segment that is not a task id (a malformed escape, say), or null
 * when it is one or is not the route's: for answers given before any route runs (Fastify's
 * `frameworkErrors`).
 */
export function invalidSegmentAnswer(raw: string): TaskStatusAnswer | null {
  const parsed = parseIdSegment(raw)
  return parsed.kind === 'invalid' ? invalid(parsed.error) : null
}

/**
 * The route's answer for a raw (still percent-encoded) last path segment, or null when the URL is
 * not the route's (the framework answers its 404). The integrations call this, not `taskStatus`,
 * so that they all read ids from URLs the same way (see `parseIdSegment`).
 *
 * @example
 * const answer = await answerSegment(app, 'a%2Fb', options, req) // looks up 'a/b'
 */
export async function answerSegment<Req>(
  app: App,
  raw: string,
  options: TaskStatusOptions<Req>,
  req: Req,
  atRoot = false,
): Promise<TaskStatusAnswer | null> {
  const parsed = parseIdSegment(raw, atRoot)
  if (parsed.kind === 'not-ours') return null
  if (parsed.kind === 'invalid') return invalid(parsed.error)
  return taskStatus(app, parsed.id, options, req)
}
