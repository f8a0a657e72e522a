/** In-process result store, the companion of the memory broker. */
import type { ForgetOptions, ResultRecord, ResultStore, WaitOptions } from '../../contracts/result-store.js'
import { isReady } from '../../core/states.js'
import { Waiters } from './waiters.js'

/**
 * Fences compare with null below every number: a record no delivery wrote has no fence to
 * defend, and the first fenced write over it sets one.
 */
function higher(a: number | null, b: number | null): boolean {
  return a !== null && (b === null || a > b)
}

export class MemoryResultStore implements ResultStore {
  readonly scheme = 'memory'
  private readonly records = new Map<string, ResultRecord>()
  private readonly waiters = new Waiters()

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.waiters.wakeAll()
  }

  async set(records: readonly ResultRecord[]): Promise<void> {
    const now = Date.now()
    for (const r of records) {
      const prev = this.read(r.id, now)
      if (prev) {
        // A stale delivery (its lease lost, the job delivered again) writes nothing.
        if (higher(prev.fence, r.fence) && r.fence !== null) continue
        // A late STARTED or RETRY cannot hide a result, unless a later run (a replay) wrote it.
        if (isReady(prev.state) && !isReady(r.state) && !higher(r.fence, prev.fence)) continue
      }
      const fence = prev && higher(prev.fence, r.fence) ? prev.fence : r.fence
      this.records.set(r.id, { ...r, fence })
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
    const deadline = Date.now() + (options.timeoutMs ?? Infinity)
    for (;;) {
      const r = this.read(id, Date.now())
      const left = deadline - Date.now()
      if ((r && isReady(r.state)) || left <= 0 || options.signal?.aborted) return r
      // Wake at least every second to notice expiry of the record meanwhile.
      await this.waiters.wait(Math.min(left, 1000), options.signal)
    }
  }

  async forget(ids: readonly string[], options: ForgetOptions = {}): Promise<number> {
    let n = 0
    ids.forEach((id, i) => {
      const r = this.records.get(id)
      if (!r) return
      const upTo = options.upToFence?.[i] ?? null
      // A record written by a later run than the caller knows of stays.
      if (upTo !== null && higher(r.fence, upTo)) return
      this.records.delete(id)
      n++
    })
    return n
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
