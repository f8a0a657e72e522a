/** AsyncResult: a handle on a sent task's state and result. */
import type { Coordination } from '../contracts/coordination.js'
import type { ResultRecord, ResultStore } from '../contracts/result-store.js'
import { decode, shapeToError, type ErrorShape } from './codec.js'
import { type Duration, toMs } from './duration.js'
import { ConfigError, ResultTimeoutError, TaskFailedError } from './errors.js'
import { followTask, type FollowOptions, type TaskUpdate } from './follow.js'
import { progressOf } from './progress.js'
import { renderThrown } from './render.js'
import { isReady, type TaskState } from './states.js'

export interface GetOptions {
  /** Give up after this long (default: wait for ever). */
  readonly timeout?: Duration
  /** Reject with the task's error on FAILURE/REVOKED (default true); false resolves it instead. */
  readonly propagate?: boolean
  readonly signal?: AbortSignal
}

/** Decodes a stored error into an Error with the task's name, message, stack and cause. */
export function decodeError(encoded: string | null, fallback: string): Error {
  if (!encoded) return new TaskFailedError(fallback)
  const value = decode<unknown>(encoded)
  if (value instanceof Error) return value
  if (value && typeof value === 'object' && 'message' in value) return shapeToError(value as ErrorShape)
  return new TaskFailedError(`${fallback}: ${renderThrown(value)}`)
}

export class AsyncResult<R = unknown> {
  constructor(
    /** The task id. */
    readonly id: string,
    private readonly store: () => Promise<ResultStore | null>,
    /** The coordination part, whose broadcasts tell followers to look again (absent: polling). */
    private readonly coordination: () => Promise<Coordination | null> = async () => null,
    private readonly revoker?: (options: { terminate?: boolean }) => Promise<void>,
  ) {}

  /**
   * Revokes the task (see `app.revoke`): not run if it has not started; aborted and REVOKED if
   * it runs now; `terminate` also kills its thread or process, or frees its async slot.
   */
  async revoke(options: { terminate?: boolean } = {}): Promise<void> {
    if (!this.revoker)
      throw new ConfigError('this result handle was made without an app; use app.revoke(ids)')
    await this.revoker(options)
  }

  private async requireStore(): Promise<ResultStore> {
    const store = await this.store()
    if (!store)
      throw new ConfigError(
        'this app has no result backend; set resultBackend (or CELERIAC_RESULT_BACKEND) to read results',
      )
    return store
  }

  /** The stored record, or null while nothing is stored (PENDING). */
  async record(): Promise<ResultRecord | null> {
    const [rec] = await (await this.requireStore()).get([this.id])
    return rec ?? null
  }

  /** PENDING when nothing is stored: an unknown id and a queued task look the same, as in Celery. */
  async state(): Promise<TaskState> {
    return (await this.record())?.state ?? 'PENDING'
  }

  async ready(): Promise<boolean> {
    return isReady(await this.state())
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === 'SUCCESS'
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === 'FAILURE'
  }

  /**
   * Waits for the task to finish and resolves its return value; rejects with the task's error
   * (name, message, stack and cause as the task threw it) on FAILURE or REVOKED, and with
   * ResultTimeoutError when `timeout` passes first.
   *
   * @example
   * const r = await add.delay(2, 3)
   * const sum: number = await r.get({ timeout: '10s' })
   */
  async get(options: GetOptions = {}): Promise<R> {
    const store = await this.requireStore()
    const timeoutMs =
      options.timeout === undefined ? Number.POSITIVE_INFINITY : toMs(options.timeout, 'timeout')
    const rec = await store.wait(this.id, { timeoutMs, signal: options.signal })
    if (!rec || !isReady(rec.state)) throw new ResultTimeoutError(this.id, timeoutMs, rec?.state ?? 'PENDING')
    if (rec.state === 'SUCCESS') return (rec.result === null ? undefined : decode(rec.result)) as R
    const err = decodeError(rec.error, `task ${this.id} ended in ${rec.state}`)
    if (options.propagate === false) return err as R
    throw err
  }

  /**
   * The progress the task last reported with `ctx.progress()` while it runs; null before it
   * reports any, and once it is ready (the record then holds its result).
   */
  async progress<P = unknown>(): Promise<P | null> {
    return progressOf<P>(await this.record())
  }

  /**
   * Follows the task live: yields its current state first, then every change of state or
   * progress, and ends after the update whose state is ready (or when `signal` aborts). Progress
   * writes are announced over the coordination part, so a follower looks again at once; other
   * state changes, and everything where there is no coordination part, are read every
   * `pollInterval`. Leave the loop (break, return) or abort the signal to stop following.
   *
   * @example
   * for await (const u of result.follow()) console.log(u.state, u.progress)
   */
  async *follow<P = unknown>(options: FollowOptions = {}): AsyncGenerator<TaskUpdate<P>, void, undefined> {
    const store = await this.requireStore()
    const coordination = await this.coordination().catch(() => null)
    yield* followTask<P>(this.id, { store, coordination }, options)
  }

  /**
   * Calls `listener` with the progress and the update on each change of state or progress, as
   * `follow()` yields them, until the task is ready or `signal` aborts. Resolves with the last
   * update (null if aborted before the first); rejects when the store cannot be read or the
   * listener throws (which stops following).
   *
   * @example
   * const last = await result.onProgress((p) => bar.update(p as number))
   */
  async onProgress<P = unknown>(
    listener: (progress: P | null, update: TaskUpdate<P>) => void | Promise<void>,
    options: FollowOptions = {},
  ): Promise<TaskUpdate<P> | null> {
    let last: TaskUpdate<P> | null = null
    for await (const u of this.follow<P>(options)) {
      last = u
      await listener(u.progress, u)
    }
    return last
  }

  /** Deletes the stored result. */
  async forget(): Promise<void> {
    await (await this.requireStore()).forget([this.id])
  }

  toJSON(): { id: string } {
    return { id: this.id }
  }
}
