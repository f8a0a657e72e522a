/**
 * Housekeeping: deleting expired results and dead letters past their retention, and the engine's
 * own upkeep (Broker.tidy: PostgreSQL vacuums its jobs table when dead rows pile up). One worker does
 * it at a time: the holder of the `housekeeping` lock of the coordination part (renewed each
 * round; another worker takes over when it lapses). Without a coordination part every worker
 * does it, which is safe (both deletions are idempotent), only wasteful.
 */
import type { DeadLetterStore } from '../contracts/broker.js'
import type { Coordination, Lock } from '../contracts/coordination.js'
import type { ResultStore } from '../contracts/result-store.js'
import type { Logger } from './logger.js'

export const HOUSEKEEPING_LOCK = 'housekeeping'

export interface HousekeeperOptions {
  readonly owner: string
  readonly intervalMs: number
  readonly coordination: Coordination | null
  readonly results: ResultStore | null
  readonly broker: DeadLetterStore & { tidy?(): Promise<string | null> }
  /** Dead letters older than this are deleted; null keeps them. */
  readonly deadRetentionMs: number | null
  readonly log: Logger
}

export class Housekeeper {
  private timer: NodeJS.Timeout | null = null
  private lock: Lock | null = null
  private round: Promise<void> | null = null

  constructor(private readonly o: HousekeeperOptions) {}

  start(): void {
    if (!this.o.results && this.o.deadRetentionMs === null && !this.o.broker.tidy) return
    this.timer = setInterval(() => void this.runOnce(), this.o.intervalMs)
    this.timer.unref()
  }

  /** Whether this worker holds the housekeeping lock (true without a coordination part). */
  get leader(): boolean {
    return this.o.coordination === null || this.lock !== null
  }

  /** One round (or the one in progress): take or keep the lock, then clean. */
  runOnce(): Promise<void> {
    this.round ??= this.once().finally(() => (this.round = null))
    return this.round
  }

  private async once(): Promise<void> {
    const c = this.o.coordination
    try {
      if (c) {
        const ttl = this.o.intervalMs * 3
        if (this.lock && !(await c.renew(this.lock, ttl))) this.lock = null
        this.lock ??= await c.acquire(HOUSEKEEPING_LOCK, this.o.owner, ttl)
        if (!this.lock) return
      }
      const removed = (await this.o.results?.cleanup()) ?? 0
      const pruned =
        this.o.deadRetentionMs === null
          ? 0
          : await this.o.broker.pruneDead({ before: Date.now() - this.o.deadRetentionMs })
      if (removed || pruned)
        this.o.log.debug({ results: removed, deadLetters: pruned }, 'housekeeping removed expired entries')
      const tidied = await this.o.broker.tidy?.()
      if (tidied) this.o.log.info(`housekeeping: ${tidied}`)
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'housekeeping failed; will try again')
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.round
    if (this.lock && this.o.coordination) await this.o.coordination.release(this.lock).catch(() => false)
    this.lock = null
  }
}
