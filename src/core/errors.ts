/**
 * Every error celeriac raises. Each has a stable `code`, readonly fields describing what was wrong,
 * and a message that says what to do about it.
 */

const ERROR_BRAND = Symbol.for('celeriac.error')

export class CeleriacError extends Error {
  readonly [ERROR_BRAND] = true
  readonly code: string = 'CELERIAC_ERROR'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A broker or result-backend URL that cannot be used. */
export class BadUrlError extends CeleriacError {
  override readonly code = 'BAD_URL'
  constructor(
    readonly url: string,
    readonly supported: readonly string[],
    reason?: string,
  ) {
    super(
      `cannot use broker URL "${redactUrl(url)}"${reason ? `: ${reason}` : ''}. Supported schemes: ${supported.map((s) => `${s}://`).join(', ')}`,
    )
  }
}

/** A task name that the registry does not know. */
export class UnknownTaskError extends CeleriacError {
  override readonly code = 'UNKNOWN_TASK'
  constructor(
    readonly task: string,
    readonly registered: readonly string[],
  ) {
    super(`unknown task "${task}"; registered tasks: ${registered.length ? registered.join(', ') : '(none)'}`)
  }
}

/** A message body that could not be decoded or does not have the envelope's shape. */
export class MalformedMessageError extends CeleriacError {
  override readonly code = 'MALFORMED_MESSAGE'
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`malformed message: ${reason}`, options)
  }
}

/** A value the codec cannot write without losing it (a function, a symbol, a circular reference). */
export class EncodeError extends CeleriacError {
  override readonly code = 'UNENCODABLE_VALUE'
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options)
  }
}

/** A task's result over the app's `maxResultBytes`. */
export class ResultTooLargeError extends CeleriacError {
  override readonly code = 'RESULT_TOO_LARGE'
  constructor(
    readonly task: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `task "${task}" returned ${bytes} bytes, over the result limit of ${limit} (maxResultBytes); store the value elsewhere and return a reference`,
    )
  }
}

/** Arguments that the task's validator rejected. */
export class InvalidArgumentsError extends CeleriacError {
  override readonly code = 'INVALID_ARGUMENTS'
  constructor(
    readonly task: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid arguments for task "${task}": ${reason}`, options)
  }
}

/** An encoded message over the configured size limit. */
export class MessageTooLargeError extends CeleriacError {
  override readonly code = 'MESSAGE_TOO_LARGE'
  constructor(
    readonly task: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `message for task "${task}" is ${bytes} bytes, over the limit of ${limit} bytes; pass a reference (a path, a URL, a row id) instead of the data, or raise maxMessageBytes`,
    )
  }
}

/** The task ran past its hard time limit; the worker stopped waiting for it. */
export class TimeLimitExceededError extends CeleriacError {
  override readonly code = 'TIME_LIMIT_EXCEEDED'
  constructor(
    readonly task: string,
    readonly limitMs: number,
  ) {
    super(`task "${task}" exceeded its hard time limit of ${limitMs} ms`)
  }
}

/**
 * The thread or process of a worker pool that ran the task ended before the task did: the task
 * called `process.exit`, ran out of memory, crashed natively, or the process was killed.
 * Retried by the task's policy like any other error (Celery's WorkerLostError).
 */
export class WorkerLostError extends CeleriacError {
  override readonly code = 'WORKER_LOST'
  constructor(
    readonly task: string,
    readonly detail: string,
  ) {
    super(`the pool child running task "${task}" exited prematurely: ${detail}`)
  }
}

/** The reason given to a task's AbortSignal when its soft time limit passes. */
export class SoftTimeLimitExceededError extends CeleriacError {
  override readonly code = 'SOFT_TIME_LIMIT_EXCEEDED'
  constructor(
    readonly task: string,
    readonly limitMs: number,
  ) {
    super(`task "${task}" exceeded its soft time limit of ${limitMs} ms`)
  }
}

/** `AsyncResult.get()` gave up waiting. */
export class ResultTimeoutError extends CeleriacError {
  override readonly code = 'RESULT_TIMEOUT'
  constructor(
    readonly id: string,
    readonly timeoutMs: number,
    readonly state: string,
  ) {
    super(`task ${id} did not finish within ${timeoutMs} ms (state: ${state})`)
  }
}

/** Thrown by `ctx.retry()`: tells the worker to run the task again later. */
export class RetryRequest extends CeleriacError {
  override readonly code = 'RETRY'
  constructor(
    readonly countdownMs: number | undefined,
    readonly reason: unknown,
    readonly max: number | undefined,
  ) {
    super('retry requested', { cause: reason })
  }
}

/** The task gave up after its retries; `get()` rejects with the original error as `cause`. */
export class MaxRetriesExceededError extends CeleriacError {
  override readonly code = 'MAX_RETRIES_EXCEEDED'
  constructor(
    readonly task: string,
    readonly retries: number,
    options?: { cause?: unknown },
  ) {
    super(`task "${task}" failed after ${retries} retries`, options)
  }
}

/** The task was revoked or expired before it ran. */
export class TaskRevokedError extends CeleriacError {
  override readonly code = 'TASK_REVOKED'
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`task ${id} was revoked: ${reason}`)
  }
}

/** A task failed: rebuilt on the caller's side from what the worker stored. */
export class TaskFailedError extends CeleriacError {
  override readonly code = 'TASK_FAILED'
}

/** The broker or result store could not be reached or answered with an error. */
export class BrokerError extends CeleriacError {
  override readonly code = 'BROKER_ERROR'
}

/** Configuration that cannot work: names what is wrong. */
export class ConfigError extends CeleriacError {
  override readonly code = 'CONFIG_ERROR'
}

/**
 * Whether a value is one of celeriac's errors, also when it comes from another copy of the
 * package (an app module loaded in its own module graph).
 */
export function isCeleriacError(value: unknown): value is CeleriacError {
  return value instanceof Error && (value as unknown as Record<symbol, unknown>)[ERROR_BRAND] === true
}

/** Hides a password in a URL so that it can be logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
  }
}

/** The user's app module could not be loaded: a syntax error, an error thrown at import, not a module. */
export class AppLoadError extends CeleriacError {
  override readonly code = 'APP_LOAD_ERROR'
  constructor(
    readonly file: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot load the app module: ${detail}`, options)
  }
}

/**
 * A workflow did not reach this step because a task before it failed: a chain step after a
 * failed one, or a chord's body when a member failed. Names the task that failed.
 */
export class WorkflowFailedError extends CeleriacError {
  override readonly code = 'WORKFLOW_FAILED'
  constructor(
    message: string,
    /** Id and name of the task that failed. */
    readonly failedId: string,
    readonly failedTask: string,
  ) {
    super(message)
  }
}
