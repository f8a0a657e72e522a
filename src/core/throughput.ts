/**
 * Throughput: jobs settled per second over about the last minute, from counts kept in 10-second
 * buckets. Brokers store the buckets where they keep everything else (a Redis hash, a SQLite table,
 * a Map); this module holds the arithmetic they share.
 */
export const BUCKET_MS = 10_000
/** Buckets read: the current one and the five before it. */
export const WINDOW_BUCKETS = 6

export function bucketOf(ms: number): number {
  return Math.floor(ms / BUCKET_MS)
}

/** The oldest bucket still read at `now`; older ones may be deleted. */
export function oldestBucket(now: number): number {
  return bucketOf(now) - WINDOW_BUCKETS + 1
}

/** Jobs per second from the counts of the window's buckets (`count(bucket)`), rounded to 0.01. */
export function ratePerSecond(count: (bucket: number) => number, now: number): number {
  const first = oldestBucket(now)
  let sum = 0
  for (let b = first; b <= bucketOf(now); b++) sum += count(b)
  const seconds = (now - first * BUCKET_MS) / 1000
  return Math.round((sum / seconds) * 100) / 100
}

/** In-process counts per queue, for brokers that live in one process. */
export class ThroughputCounter {
  private readonly buckets = new Map<string, Map<number, number>>()

  add(queue: string, n: number, now = Date.now()): void {
    if (n <= 0) return
    let q = this.buckets.get(queue)
    if (!q) this.buckets.set(queue, (q = new Map()))
    const b = bucketOf(now)
    q.set(b, (q.get(b) ?? 0) + n)
    for (const old of q.keys()) if (old < oldestBucket(now)) q.delete(old)
  }

  rate(queue: string, now = Date.now()): number {
    const q = this.buckets.get(queue)
    return q ? ratePerSecond((b) => q.get(b) ?? 0, now) : 0
  }
}
