/**
 * When to offer held-back jobs again. Jobs deferred for the same limit are spread out, one
 * `spacingMs` after the other from the first moment the limit could let one through, rather than
 * all offered at that moment: a worker that defers 80 jobs of one tenant at once does not get
 * all 80 back together to defer again. Per worker; workers do not share it.
 */

/**
 * Jobs are never spread further than this past the moment the limit could let one through: a
 * limit raised at run time reaches jobs already deferred within this long. Beyond it they come
 * back together and are spread again (a backlog of B jobs costs about B / 5 deferrals a second).
 */
export const HORIZON_MS = 5000

export class Pacer {
  private readonly next = new Map<string, number>()

  /** Delay from now for the next job held back by `limit`, which may pass in `waitMs`. */
  delay(limit: string, waitMs: number, spacingMs: number, now = Date.now()): number {
    if (this.next.size > 10_000) for (const [k, t] of this.next) if (t < now) this.next.delete(k)
    const at = Math.min(Math.max(now + waitMs, this.next.get(limit) ?? 0), now + waitMs + HORIZON_MS)
    this.next.set(limit, at + spacingMs)
    return Math.max(1, Math.ceil(at - now))
  }
}
