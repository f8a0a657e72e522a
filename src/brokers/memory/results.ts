/** In-process result store, the companion of the memory broker. */
import type { ResultRecord, ResultStore, WaitOptions } from '../../contracts/result-store.js'
import { isReady } from '../../core/states.js'
import { Waiters } from './waiters.js'

export class MemoryResultStore implements ResultStore {
  readonly scheme = 'memory'
  private readonly records = new Map<string, ResultRecord>()
  private readonly waiters = new Waiters()

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.waiters.wakeAll()
  }

  async set(records: readonly ResultRecord[]): Promise<void> {
    for (const r of records) {
      const prev = this.records.get(r.id)
      if (prev && isReady(prev.state) && !isReady(r.state)) continue
      this.records.set(r.id, r)
    }
    this.waiters.wakeAll()
  }

  private read(id: string, now: number): ResultRecord | null {
    const r = this.records.get(id)
    if (!r) return null
    if (r.expiresAt !== null && r.expiresAt <= now) {
      this.records.delete(id)
      return null
    }
    return r
  }

  async get(ids: readonly string[]): Promise<(ResultRecord | null)[]> {
    const now = Date.now()
    return ids.map((id) => this.read(id, now))
  }

  async wait(id: string, options: WaitOptions): Promise<ResultRecord | null> {
    const deadline = Date.now() + options.timeoutMs
    for (;;) {
      const r = this.read(id, Date.now())
      const left = deadline - Date.now()
      if ((r && isReady(r.state)) || left <= 0 || options.signal?.aborted) return r
      await this.waiters.wait(Math.min(left, 1000), options.signal)
    }
  }

  async forget(ids: readonly string[]): Promise<number> {
    return ids.filter((id) => this.records.delete(id)).length
  }

  async cleanup(): Promise<number> {
    const now = Date.now()
    let n = 0
    for (const [id, r] of this.records) {
      if (r.expiresAt !== null && r.expiresAt <= now) {
        this.records.delete(id)
        n++
      }
    }
    return n
  }
}
