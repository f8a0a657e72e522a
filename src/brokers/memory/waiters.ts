/** Callers parked until something changes (or a timeout passes, or a signal aborts). */
export class Waiters {
  private readonly parked = new Set<() => void>()

  /**
   * Resolves on the next `wakeAll`, after `ms`, or when the signal aborts. An infinite `ms` sets
   * no timer: Node fires `setTimeout(fn, Infinity)` after 1 ms.
   */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        if (timer !== undefined) clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.parked.delete(done)
        resolve()
      }
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined
      signal?.addEventListener('abort', done, { once: true })
      this.parked.add(done)
      if (signal?.aborted) done()
    })
  }

  wakeAll(): void {
    for (const w of [...this.parked]) w()
  }
}
