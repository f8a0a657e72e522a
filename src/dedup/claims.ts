/**
 * Run claims: "an id published twice runs once" on a broker without idempotent publish
 * (RabbitMQ), using the app's coordination part (Redis, PostgreSQL or SQLite).
 *
 * A job stored twice under one id is two copies with the same fences: both start at epoch 0, and
 * every later delivery of a copy (a redelivery after a crash, a retry, a replay) has a higher
 * fence than all of its earlier ones. So before a delivery whose id the producer chose is run,
 * the worker takes the lock `celeriac:run:<id>:<fence>`, owned by the delivery. The first
 * delivery to take it runs; a delivery of the other copy with the same fence finds it taken and
 * is acknowledged without running (its result is the first one's). A copy whose worker died is
 * delivered again with a higher fence, takes a new lock and runs: a claim never leaves a job
 * without a run, it only stops the second copy of one.
 *
 * Ids celeriac generated cannot repeat and are never claimed (no cost). A claim lasts the app's
 * `resultExpires` (default one day): an id sent again after that runs again, as on engines with
 * idempotent publish, where an id runs again once it is no longer live.
 */
import type { Delivery } from '../contracts/broker.js'
import type { Coordination } from '../contracts/coordination.js'

export interface ClaimLog {
  warn(obj: object, msg: string): void
}

export class RunClaims {
  constructor(
    private readonly coordination: Coordination,
    /** The worker's name: part of each claim's owner, for operators reading the locks. */
    private readonly worker: string,
    private readonly ttlMs: number,
    private readonly log: ClaimLog,
  ) {}

  /** The lock that decides which delivery of `id` with `fence` runs. */
  static key(id: string, fence: number): string {
    return `celeriac:run:${id}:${fence}`
  }

  /**
   * Whether `delivery` may run: true when its id was generated (cannot repeat), or when this
   * delivery took (or already held) its claim. When the coordination part cannot be reached the
   * delivery runs: at least once is kept, the dedup is lost for that delivery (logged).
   */
  async mayRun(delivery: Delivery): Promise<boolean> {
    if (!delivery.chosenId) return true
    const owner = `${this.worker}/${delivery.token}`
    try {
      const lock = await this.coordination.acquire(
        RunClaims.key(delivery.id, delivery.fence),
        owner,
        this.ttlMs,
      )
      return lock !== null
    } catch (err) {
      this.log.warn(
        { id: delivery.id, err: (err as Error).message },
        'could not claim the run of a caller-chosen id; running it without the check for a second copy',
      )
      return true
    }
  }
}
