/**
 * Token takes of one event-loop turn, coalesced per bucket: the jobs of a reserved batch ask
 * together, so a limit the workers do not reach costs one `take` of k tokens per batch rather
 * than one round trip per job. When the bucket cannot give all k at once, they are taken one by
 * one until the first refusal, whose wait answers that job and every one after it.
 */
import type { BucketSpec, Coordination } from '../contracts/coordination.js'

interface Waiter {
  resolve(waitMs: number): void
  reject(err: unknown): void
}

export class Takes {
  private pending = new Map<string, { spec: BucketSpec; waiters: Waiter[] }>()
  private scheduled = false

  constructor(private readonly coordination: Coordination) {}

  /** Resolves 0 when a token of bucket `name` was taken for this job, else ms to wait. */
  take(name: string, spec: BucketSpec): Promise<number> {
    return new Promise((resolve, reject) => {
      let entry = this.pending.get(name)
      if (!entry) this.pending.set(name, (entry = { spec, waiters: [] }))
      entry.waiters.push({ resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    const batch = this.pending
    this.pending = new Map()
    this.scheduled = false
    for (const [name, { spec, waiters }] of batch) void this.serve(name, spec, waiters)
  }

  /** In groups of at most the burst (no more can be taken at once); a refusal answers the rest. */
  private async serve(name: string, spec: BucketSpec, waiters: Waiter[]): Promise<void> {
    const burst = Math.max(1, Math.floor(spec.burst ?? spec.rate))
    let i = 0
    try {
      while (i < waiters.length) {
        const group = Math.min(burst, waiters.length - i)
        if (group > 1 && (await this.coordination.take(name, group, spec)) === 0) {
          for (const w of waiters.slice(i, i + group)) w.resolve(0)
          i += group
          continue
        }
        for (const end = i + group; i < end; i++) {
          const wait = await this.coordination.take(name, 1, spec)
          if (wait > 0) {
            for (const w of waiters.slice(i)) w.resolve(wait)
            return
          }
          waiters[i]!.resolve(0)
        }
      }
    } catch (err) {
      for (const w of waiters.slice(i)) w.reject(err)
    }
  }
}
