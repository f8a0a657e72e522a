/**
 * Run claims: "an id published twice runs once" on a broker without idempotent publish
 * (RabbitMQ), using the app's coordination part (Redis, PostgreSQL or SQLite).
 *
 * A message whose id the producer chose carries the name of its copy: each publish by a producer
 * gets a fresh one, and every later delivery of that publish (a redelivery after a crash, a
 * retry, a release at shutdown, a replay) keeps it. Before such a delivery runs, the worker takes
 * the lock `celeriac:run:<id>` with its copy as the owner. The copy that takes it first owns the
 * id: all of its deliveries run (a call by the owner renews the lock), and a delivery of any
 * other copy finds the lock held by someone else and is acknowledged without running and without
 * writing a result (its result is the owner's). A claim never leaves a job without a run: the
 * owner copy is only acknowledged once it ran to the end (or was dead-lettered).
 *
 * Messages published before copies existed (a chosen id without a copy) fall back to a claim per
 * fence, `celeriac:run:<id>:<fence>`: the two copies of one publish start with equal fences.
 *
 * Ids celeriac generated cannot repeat and are never claimed (no cost). A claim lasts the app's
 * `resultExpires` (default one day; 30 days when results never expire) from its owner's last
 * delivery: an id sent again after that runs again, as on engines with idempotent publish, where
 * an id runs again once it is no longer live.
 */
import type { Delivery } from '../contracts/broker.js'
import type { Coordination } from '../contracts/coordination.js'

/** How long a claim lasts when results are kept for ever (resultExpires 0). */
export const LONGEST_CLAIM_MS = 30 * 86_400_000

export interface ClaimLog {
  warn(obj: object, msg: string): void
}

export class RunClaims {
  private readonly ttlMs: number

  constructor(
    private readonly coordination: Coordination,
    /** The worker's name: part of a fence claim's owner, for operators reading the locks. */
    private readonly worker: string,
    ttlMs: number,
    private readonly log: ClaimLog,
  ) {
    this.ttlMs = ttlMs > 0 ? ttlMs : LONGEST_CLAIM_MS
  }

  /** The lock that decides which copy of `id` runs (`fence` only for messages without a copy). */
  static key(id: string, fence?: number): string {
    return fence === undefined ? `celeriac:run:${id}` : `celeriac:run:${id}:${fence}`
  }

  /** The lock a delivery takes and the owner it takes it as. */
  static claimOf(delivery: Delivery, worker: string): { key: string; owner: string } {
    return delivery.copy
      ? { key: RunClaims.key(delivery.id), owner: `copy:${delivery.copy}` }
      : { key: RunClaims.key(delivery.id, delivery.fence), owner: `${worker}/${delivery.token}` }
  }

  /**
   * Whether `delivery` may run: true when its id was generated (cannot repeat), or when its copy
   * took (or already owned) the id's claim. When the coordination part cannot be reached the
   * delivery runs: at least once is kept, the dedup is lost for that delivery (logged).
   */
  async mayRun(delivery: Delivery): Promise<boolean> {
    if (!delivery.chosenId) return true
    const { key, owner } = RunClaims.claimOf(delivery, this.worker)
    try {
      return (await this.coordination.acquire(key, owner, this.ttlMs)) !== null
    } catch (err) {
      this.log.warn(
        { id: delivery.id, err: (err as Error).message },
        'could not claim the run of a caller-chosen id; running it without the check for a second copy',
      )
      return true
    }
  }
}
