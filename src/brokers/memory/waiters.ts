/** Consumers parked until something is published (or a timeout passes, or a signal aborts). */
export class Waiters {
  private readonly parked = new Set<() => void>()

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.parked.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
      this.parked.add(done)
    })
  }

  wakeAll(): void {
    for (const w of [...this.parked]) w()
  }
}
