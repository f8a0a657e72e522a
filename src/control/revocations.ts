/**
 * A worker's revoked ids, in memory: loaded from the revoked records when the worker starts,
 * added to by revoke broadcasts, merged again with the records every `reloadMs` (a broadcast
 * missed while a subscription was reconnecting is found then). `has` is a Map lookup: the check
 * every delivery passes costs no round trip.
 */
import type { Coordination } from '../contracts/coordination.js'
import { REVOKED_SPACE, parseRevocation } from './protocol.js'

/** Most revocations loaded at once (Celery keeps 50,000 in memory). */
export const MAX_REVOCATIONS = 50_000

export class Revocations {
  /** id → when it lapses (epoch ms) and whether running copies are to be terminated. */
  private readonly ids = new Map<string, { until: number; terminate: boolean }>()

  constructor(private readonly coordination: Coordination) {}

  get size(): number {
    return this.ids.size
  }

  has(id: string): boolean {
    const r = this.ids.get(id)
    if (!r) return false
    if (r.until >= Date.now()) return true
    this.ids.delete(id)
    return false
  }

  add(ids: readonly string[], ttlMs: number, terminate: boolean): void {
    const until = Date.now() + ttlMs
    for (const id of ids) this.ids.set(id, { until, terminate })
  }

  /** Merges the stored revocations in and drops lapsed ones. */
  async load(): Promise<void> {
    const records = await this.coordination.list(REVOKED_SPACE, MAX_REVOCATIONS)
    const now = Date.now()
    for (const r of records)
      this.ids.set(r.key, {
        until: r.expiresAt ?? Number.MAX_SAFE_INTEGER,
        terminate: parseRevocation(r.value).terminate,
      })
    for (const [id, r] of this.ids) if (r.until < now) this.ids.delete(id)
  }
}
