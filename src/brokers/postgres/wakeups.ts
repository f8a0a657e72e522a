/**
 * Waiting for a notification: a waiter is registered before the look that found nothing, so a
 * notification that arrives between the look and the sleep still wakes it. Parts keep one handler
 * per channel on the notifier and a set of waiters here.
 */

export interface Waiter {
  /** Resolves on a matching notification (or one sent before, since the waiter exists), the timeout, or abort. */
  wait(ms: number, signal?: AbortSignal): Promise<void>
  cancel(): void
}

interface Entry {
  readonly match: (payload: string) => boolean
  fired: boolean
  wake: (() => void) | null
}

export class Wakeups {
  private readonly entries = new Set<Entry>()

  /** Hands a payload to the waiters (null: everyone looks again). */
  notify(payload: string | null): void {
    for (const e of this.entries) {
      if (payload !== null && !e.match(payload)) continue
      e.fired = true
      e.wake?.()
    }
  }

  /** Wakes every waiter (the part is closing). */
  wakeAll(): void {
    this.notify(null)
  }

  waiter(match: (payload: string) => boolean): Waiter {
    const entry: Entry = { match, fired: false, wake: null }
    this.entries.add(entry)
    return {
      wait: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (entry.fired || signal?.aborted || ms <= 0) return resolve()
          const done = () => {
            clearTimeout(timer)
            signal?.removeEventListener('abort', done)
            entry.wake = null
            resolve()
          }
          // Infinity would fire at once (a timer takes at most 2^31-1 ms).
          const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1))
          signal?.addEventListener('abort', done, { once: true })
          entry.wake = done
        }),
      cancel: () => {
        entry.wake?.()
        this.entries.delete(entry)
      },
    }
  }
}
