/**
 * Waiting for another process's write lock without blocking the event loop.
 *
 * better-sqlite3 is synchronous: while SQLite's busy handler waits for a lock, the whole process
 * stands still (timers, heartbeats, HTTP). So the busy timeout is a few milliseconds, and a
 * statement that still finds the file locked is tried again after an asynchronous sleep that
 * doubles up to a cap, for as long as a long busy timeout would have waited.
 */
import { BrokerError } from '../../core/errors.js'

/** SQLite's own (synchronous) wait for a lock before it reports SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5
/** Longest asynchronous sleep between two tries. */
const MAX_BACKOFF_MS = 50
/** Give up after this long locked out (a writer that never commits). */
const GIVE_UP_MS = 15_000

export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/** Runs `fn`, trying again asynchronously while the database is locked by another connection. */
export async function retryBusy<T>(fn: () => T, path: string): Promise<T> {
  let delay = 1
  let giveUpAt = 0
  for (;;) {
    try {
      return fn()
    } catch (err) {
      if (!isBusy(err)) throw err
      const now = Date.now()
      giveUpAt ||= now + GIVE_UP_MS
      if (now >= giveUpAt)
        throw new BrokerError(
          `the SQLite database ${path} stayed locked by another connection for ${GIVE_UP_MS / 1000} s`,
          { cause: err },
        )
    }
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, MAX_BACKOFF_MS)
  }
}
