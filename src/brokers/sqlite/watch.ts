/**
 * Waking waiters when the database changed. Other processes' commits are seen through
 * `PRAGMA data_version`, which moves whenever another connection commits: reading it costs
 * microseconds and takes no lock, so it is polled every few milliseconds while someone waits.
 * Commits made on this connection do not move it; the parts call `notify` after them.
 */

/** What a waiter has seen: the data_version and the count of local commits. */
export interface Snapshot {
  readonly version: number
  readonly local: number
}

interface Waiter {
  readonly since: Snapshot
  readonly done: () => void
}

const POLL_MS = 4

export class ChangeWatch {
  private local = 0
  private readonly waiters = new Set<Waiter>()
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly dataVersion: () => number) {}

  /** Take one before looking at the tables; pass it to `changed` to miss no commit in between. */
  snapshot(): Snapshot {
    return { version: this.dataVersion(), local: this.local }
  }

  /** Resolves after `ms`, on abort, or once the database differs from `since`. */
  changed(ms: number, signal?: AbortSignal, since: Snapshot = this.snapshot()): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        since,
        done: () => {
          clearTimeout(t)
          signal?.removeEventListener('abort', waiter.done)
          this.waiters.delete(waiter)
          resolve()
        },
      }
      const t = setTimeout(waiter.done, ms)
      signal?.addEventListener('abort', waiter.done, { once: true })
      this.waiters.add(waiter)
      if (signal?.aborted || this.moved(since, this.snapshot())) return waiter.done()
      this.timer ??= setInterval(() => this.poll(), POLL_MS)
    })
  }

  /** A commit on this connection: wakes every waiter. */
  notify(): void {
    this.local++
    this.wakeAll()
  }

  /** The connection is closing: wakes every waiter and stops polling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.wakeAll()
  }

  private moved(a: Snapshot, b: Snapshot): boolean {
    return a.version !== b.version || a.local !== b.local
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w.done()
  }

  private poll(): void {
    const now = this.snapshot()
    for (const w of [...this.waiters]) if (this.moved(w.since, now)) w.done()
    if (this.waiters.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = null
    }
  }
}
