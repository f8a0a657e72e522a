/**
 * The broker contract: what the worker, beat, dashboard and producers need from a queue engine.
 * Every backend in `src/brokers/` implements it and passes `test/conformance/`.
 *
 * The broker never decodes a body: it stores and returns opaque strings plus the few fields it
 * routes by. Every call takes a batch and costs the engine one round trip (one statement or
 * transaction, one Lua script, one confirm) per batch. See docs/architecture.md for how each call
 * maps onto SQLite, Redis, RabbitMQ and PostgreSQL.
 */

/** A job to enqueue. */
export interface OutgoingJob {
  /** Task id; unique among live jobs of a broker. */
  readonly id: string
  readonly queue: string
  /** Encoded message. */
  readonly body: string
  /** 0 to 9, higher first. */
  readonly priority: number
  /** Epoch ms before which the job is not delivered; absent or past means now. */
  readonly availableAt?: number
}

/** A reference to one delivery of a job: its id and the fencing token of that delivery. */
export interface LeaseRef {
  readonly id: string
  readonly token: string
}

/** One delivery of a job to a consumer. */
export interface Delivery extends LeaseRef {
  readonly queue: string
  readonly body: string
  readonly priority: number
  /** How many times the job has been delivered, this delivery included. */
  readonly deliveries: number
}

export interface ReserveOptions {
  /**
   * How long the delivery stays with this consumer without an extension. When it passes, the job
   * is delivered again (to anyone) with a new token; the old token is fenced off.
   */
  readonly leaseMs: number
  /** Wait up to this long for at least one job; 0 or absent returns at once. */
  readonly waitMs?: number
  /** Ends a wait early; reserve then returns what it has (possibly nothing). */
  readonly signal?: AbortSignal
}

export interface RetryItem extends LeaseRef {
  /** The new body (its retry count raised). */
  readonly body: string
  /** Delay before the job is delivered again. */
  readonly delayMs: number
}

export interface DeadLetterItem extends LeaseRef {
  /** Why the job could not be run; shown by `celeriac dead list`. */
  readonly reason: string
}

/** A job in the dead-letter store. */
export interface DeadJob {
  readonly id: string
  readonly queue: string
  readonly body: string
  readonly priority: number
  readonly reason: string
  /** Epoch ms. */
  readonly failedAt: number
  readonly deliveries: number
}

export interface QueueStats {
  readonly queue: string
  /** Ready to be delivered now. */
  readonly waiting: number
  /** Waiting for their time (eta, countdown, retry backoff). */
  readonly delayed: number
  /** Delivered and leased, not yet acknowledged. */
  readonly active: number
  /** In the dead-letter store. */
  readonly dead: number
  /** Jobs settled (acknowledged or dead-lettered) per second, averaged over about the last minute. */
  readonly throughput: number
  /** Paused: nothing is delivered from it (publishing still works). */
  readonly paused: boolean
}

export interface BrokerCapabilities {
  /**
   * 'timed': a lease expires after leaseMs unless extended (SQLite, Redis, PostgreSQL).
   * 'connection': a delivery lasts while the consumer's connection lives (RabbitMQ); `extend`
   * always succeeds for a live delivery.
   */
  readonly leases: 'timed' | 'connection'
  /** `reserve` with waitMs is woken by the engine, not by polling. */
  readonly blockingReserve: boolean
  /** Enqueue can join a transaction the caller holds (PostgreSQL). */
  readonly transactionalPublish: boolean
  /**
   * `publish` skips a job whose id is already in the broker (waiting, delayed or active), so a
   * producer that chooses ids can send again safely. Without it, a repeated id may be stored twice.
   */
  readonly idempotentPublish: boolean
}

export interface ListDeadOptions {
  readonly queue?: string
  readonly limit?: number
  readonly offset?: number
}

export interface Broker {
  /** URL scheme, for banners and errors. */
  readonly scheme: string
  readonly capabilities: BrokerCapabilities

  /** Opens connections and creates what the engine needs (tables, scripts). Idempotent. */
  connect(): Promise<void>
  /** Closes connections; leases held are left to expire (or returned, for 'connection' leases). */
  close(): Promise<void>

  /** Enqueues a batch. Either all jobs are stored (see `idempotentPublish` for repeated ids) or the call rejects. */
  publish(jobs: readonly OutgoingJob[]): Promise<void>
  /**
   * Takes up to `max` ready jobs from `queues`, highest priority first, then oldest first, and
   * leases them. Delayed jobs whose time has come and jobs whose lease expired count as ready.
   */
  reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]>
  /** Removes finished jobs. An entry is false when its token is stale (nothing changed). */
  ack(refs: readonly LeaseRef[]): Promise<boolean[]>
  /** Extends leases by leaseMs from now. False for stale tokens. */
  extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]>
  /** Gives jobs back to be delivered again at once; the released delivery is not counted. */
  release(refs: readonly LeaseRef[]): Promise<boolean[]>
  /** Re-queues jobs with a new body after a delay. False for stale tokens. */
  retry(items: readonly RetryItem[]): Promise<boolean[]>
  /** Moves jobs to the dead-letter store with a reason. False for stale tokens. */
  deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]>

  /** Dead-letter entries, newest first. */
  listDead(options?: ListDeadOptions): Promise<DeadJob[]>
  /** Moves dead jobs back to their queues (all of them when ids is absent). Returns how many. */
  replayDead(ids?: readonly string[]): Promise<number>
  /** Deletes dead-letter entries (all when ids is absent). Returns how many. */
  deleteDead(ids?: readonly string[]): Promise<number>
  /** Stops deliveries from a queue until `resume`; jobs can still be published to it. */
  pause(queue: string): Promise<void>
  /** Lets a paused queue deliver again. */
  resume(queue: string): Promise<void>
  /** Deletes waiting and delayed jobs of a queue (not active ones). Returns how many. */
  purge(queue: string): Promise<number>
  /** Counts per queue; all queues the broker knows when `queues` is absent. */
  stats(queues?: readonly string[]): Promise<QueueStats[]>
}
