/**
 * Following one task live: its state and progress, from now until it is ready. The stored record
 * is the truth; the rest only says when to read it again:
 * - a broadcast on the task's progress channel (coordination part), sent after each progress write;
 * - the result store's own `wait`, which wakes as soon as the task is ready;
 * - a timer (`pollInterval`), for the state changes nothing announces (STARTED, RETRY), and for
 *   everything where there is no coordination part.
 * Re-reading rather than trusting the broadcast keeps the store's fencing: a notice from a stale
 * delivery makes a follower look, and it finds what the later delivery wrote.
 */
import type { Coordination } from '../contracts/coordination.js'
import type { ResultRecord, ResultStore } from '../contracts/result-store.js'
import { toMs, type Duration } from './duration.js'
import { progressChannel, progressOf } from './progress.js'
import { isReady, type TaskState } from './states.js'

/** One observation of a followed task. */
export interface TaskUpdate<P = unknown> {
  readonly id: string
  /** PENDING while nothing is stored. */
  readonly state: TaskState
  /** The latest progress while the task runs; null when none was reported, and once it is ready. */
  readonly progress: P | null
  /** Whether the task is ready (SUCCESS, FAILURE, REVOKED): the last update of a follow. */
  readonly ready: boolean
  /** The stored record, null while nothing is stored. */
  readonly record: ResultRecord | null
}

export interface FollowOptions {
  /** Stops following: the iteration ends (no error). */
  readonly signal?: AbortSignal
  /**
   * How often the record is read again when nothing announced a change (default 1 s with a
   * coordination part, 250 ms without one).
   */
  readonly pollInterval?: Duration
}

/** Where a follow reads from. */
export interface FollowSources {
  readonly store: ResultStore
  /** Null: no coordination part, progress is found by polling. */
  readonly coordination: Coordination | null
}

function key(r: ResultRecord | null): string {
  return r === null ? '' : `${r.state}\u0000${r.fence}\u0000${r.retries}\u0000${r.result}\u0000${r.error}`
}

function update<P>(id: string, record: ResultRecord | null): TaskUpdate<P> {
  const state = record?.state ?? 'PENDING'
  return { id, state, progress: progressOf<P>(record), ready: isReady(state), record }
}

/** A latch that wakes the loop; several signals before it looks count as one. */
class Wake {
  private pending = true
  private resolve: (() => void) | null = null
  set = (): void => {
    this.pending = true
    this.resolve?.()
    this.resolve = null
  }
  next(): Promise<void> {
    if (this.pending) {
      this.pending = false
      return Promise.resolve()
    }
    return new Promise<void>((r) => (this.resolve = r)).then(() => void (this.pending = false))
  }
}

/**
 * Yields the task's current state first, then each change of state or progress, and ends after
 * the update whose state is ready (or when the signal aborts). Store errors end it with the error.
 */
export async function* followTask<P = unknown>(
  id: string,
  sources: FollowSources,
  options: FollowOptions = {},
): AsyncGenerator<TaskUpdate<P>, void, undefined> {
  const { store, coordination } = sources
  const pollMs =
    options.pollInterval === undefined
      ? coordination
        ? 1000
        : 250
      : toMs(options.pollInterval, 'pollInterval')
  const stop = new AbortController()
  const outer = options.signal
  const wake = new Wake()
  const onAbort = (): void => {
    stop.abort()
    wake.set()
  }
  outer?.addEventListener('abort', onAbort, { once: true })
  let unsubscribe: (() => Promise<void>) | null = null
  const timer = setInterval(wake.set, Math.max(10, pollMs))
  timer.unref?.()
  try {
    if (outer?.aborted) return
    // Subscribed before the first read, so no write after that read goes unnoticed.
    if (coordination) unsubscribe = await coordination.subscribe(progressChannel(id), wake.set)
    // One wait for the whole follow: it resolves once the record is ready.
    store.wait(id, { signal: stop.signal }).then(wake.set, wake.set)
    let last: string | null = null
    for (;;) {
      await wake.next()
      if (stop.signal.aborted) return
      const [record] = await store.get([id])
      const k = key(record ?? null)
      if (k === last) continue
      last = k
      const u = update<P>(id, record ?? null)
      yield u
      if (u.ready) return
    }
  } finally {
    clearInterval(timer)
    outer?.removeEventListener('abort', onAbort)
    stop.abort()
    await unsubscribe?.().catch(() => {})
  }
}
