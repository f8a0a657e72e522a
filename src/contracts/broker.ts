/**
 * The broker contract: what the worker, beat, dashboard and producers need from a queue engine,
 * as parts. A URL's backend (contracts/backend.ts) supplies a `Broker`: a producer, a pull
 * consumer (`reserve`; the worker's credit-based consumer is built on it, see consumer.ts) and
 * the settle calls, plus queue administration and a dead-letter store. Every engine that
 * supplies a part passes that part's suite in `test/conformance/`.
 *
 * The broker never decodes a body: it stores and returns opaque strings plus the few fields it
 * routes by. Every call takes a batch and costs the engine one round trip (one statement or
 * transaction, one Lua script, one confirm) per batch. See docs/architecture.md for how each call
 * maps onto SQLite, Redis, RabbitMQ and PostgreSQL.
 */
import type { Consumer } from './consumer.js'
import type { Message } from '../core/message.js'

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
  /**
   * Fields an engine may act on without decoding the body. Today they travel for the engines'
   * sake only: the group or chord the job belongs to (joins), a key for unique jobs, and a key
   * for rate limits and per-key concurrency. An engine that does not use a field ignores it.
   */
  readonly group?: string
  readonly uniqueKey?: string
  readonly limitKey?: string
  /**
   * The id was generated for this job by celeriac (a UUIDv7) and so cannot be live already: an
   * idempotent engine may skip its check for it, and keep it out of any index it keeps for the
   * check (Redis does: a live-id set costs memory per waiting job).
   */
  readonly generatedId?: boolean
}

/** A reference to one delivery of a job: its id and the fencing token of that delivery. */
export interface LeaseRef {
  readonly id: string
  readonly token: string
}

/** One delivery of a job to a consumer. */
export interface Delivery extends LeaseRef {
  /**
   * Grows with every delivery of the same job (redeliveries, retries, releases and replays
   * included), so a write made for this delivery can be fenced off once a later delivery exists:
   * result stores keep the highest fence written and refuse lower ones.
   */
  readonly fence: number
  readonly queue: string
  readonly body: string
  readonly priority: number
  /** How many times the job has been delivered, this delivery included. */
  readonly deliveries: number
  /**
   * The producer chose the id (`OutgoingJob.generatedId` was not set). Set by engines without
   * `idempotentPublish`, where such an id may have been stored twice: the worker then claims
   * the run before starting it, so that one id runs once (src/dedup).
   */
  readonly chosenId?: boolean
  /**
   * With `chosenId`: which publish of the id this delivery comes from, the same for every later
   * delivery of that publish (redeliveries, retries, releases, replays). The claim of an id
   * belongs to one copy, so a second publish of the id never runs while the claim lasts.
   */
  readonly copy?: string
  /**
   * The message the body holds, when the engine read it already (an engine that builds the
   * body from another wire format, such as Celery's): the worker then does not decode the body
   * again. It must be what `decodeMessage(body)` gives.
   */
  readonly message?: Message
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

export interface DeferItem extends LeaseRef {
  /** Delay before the job is delivered again (0: ready at once, behind the jobs ready now). */
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

/** Options of one publish call. */
export interface PublishOptions {
  /**
   * A transaction the caller holds (a pg client inside BEGIN, for instance): the jobs become
   * visible only when it commits. Only for brokers with `transactionalPublish`; others refuse.
   */
  readonly transaction?: unknown
}

export interface BrokerCapabilities {
  /**
   * 'pull': the engine hands out jobs on request (`reserve`; SQLite, Redis, PostgreSQL), and its
   * consumer is built on that. 'push': the engine pushes deliveries within the credit granted
   * (RabbitMQ) and has no `reserve`.
   */
  readonly consumer: 'pull' | 'push'
  /**
   * Order of jobs of one priority across the queues a consumer names. 'age': oldest first,
   * whatever the queue (memory, SQLite, PostgreSQL). 'listed': queue by queue in the order named,
   * oldest first within each (Redis: a list per queue and priority, no shared clock to merge on).
   * Across priorities, higher always comes first. 'none': each queue delivers in its own order
   * (priority, then oldest) and there is no order between queues, priorities included (RabbitMQ:
   * every queue pushes to its consumer on its own).
   */
  readonly crossQueueOrder: 'age' | 'listed' | 'none'
  /**
   * 'timed': a lease expires after leaseMs unless extended (SQLite, Redis, PostgreSQL).
   * 'connection': a delivery lasts while the consumer's connection lives (RabbitMQ); `extend`
   * always succeeds for a live delivery.
   */
  readonly leases: 'timed' | 'connection'
  /** `reserve` with waitMs is woken by the engine, not by polling. */
  readonly blockingReserve: boolean
  /** Enqueue can join a transaction the caller holds (PostgreSQL: a pg client; SQLite: a better-sqlite3 connection on the broker's file). */
  readonly transactionalPublish: boolean
  /**
   * `publish` skips a job whose id is live in the broker (waiting, delayed or active), so a
   * producer that chooses ids (beat ticks, chord callbacks, unique jobs, a resend after "the
   * command may have run") can send again safely. Without it, a repeated id may be stored twice.
   */
  readonly idempotentPublish: boolean
  /**
   * Without `idempotentPublish`: deliveries say when the producer chose the id
   * (`Delivery.chosenId`, `copy`), so that a worker with a coordination part runs one such id
   * once (src/dedup, run claims). Workflows and beat rely on this where publish is not idempotent.
   */
  readonly marksChosenIds?: boolean
  /**
   * `listJobs` reads the jobs of a queue in one state a page at a time (memory, SQLite, Redis,
   * PostgreSQL). Absent or false: the engine cannot list what it holds without taking it
   * (RabbitMQ: a queue is read only by consuming it).
   */
  readonly listJobs?: boolean
}

/** The states `listJobs` reads; dead jobs are read with `listDead`. */
export type JobState = 'waiting' | 'delayed' | 'active'

export interface ListJobsOptions {
  readonly queue: string
  readonly state: JobState
  /** Default 0. */
  readonly offset?: number
  /** Default 100. */
  readonly limit?: number
}

/** A job as `listJobs` shows it: what the broker stores, the body still encoded. */
export interface ListedJob {
  readonly id: string
  readonly queue: string
  readonly body: string
  readonly priority: number
  /** Delayed: when it becomes ready; active: when its lease lapses (timed leases); else null. */
  readonly availableAt: number | null
  readonly deliveries: number
}

/**
 * Reading jobs without taking them, for operators (the dashboard's Queues page). Order: waiting
 * in delivery order (priority, then oldest), delayed by due time, active by lease expiry.
 * A page is one query; its rows may move between states while it is read.
 */
export interface JobLister {
  listJobs(options: ListJobsOptions): Promise<ListedJob[]>
}

/** Whether the broker supplies `listJobs`. */
export function canListJobs(broker: Broker): broker is Broker & JobLister {
  return (
    broker.capabilities.listJobs === true && typeof (broker as Partial<JobLister>).listJobs === 'function'
  )
}

export interface ListDeadOptions {
  readonly queue?: string
  readonly limit?: number
  readonly offset?: number
}

/** A broker whose `capabilities.consumer` is 'pull'. */
export interface PullBroker extends Broker, PullConsumer {}

/** Whether the broker hands out jobs on request (`reserve`). */
export function isPullBroker(broker: Broker): broker is PullBroker {
  return broker.capabilities.consumer === 'pull'
}

export interface PruneDeadOptions {
  /** Delete entries that failed before this epoch ms. */
  readonly before?: number
  /** Keep at most this many entries per queue, newest first. */
  readonly keep?: number
}

/** Sending: one call per batch. */
export interface Producer {
  /**
   * Enqueues a batch. Either all jobs are stored or the call rejects. With `idempotentPublish`,
   * a job whose id is live (waiting, delayed or active) is skipped; a dead entry with the same id
   * stays in the dead-letter store.
   */
  publish(jobs: readonly OutgoingJob[], options?: PublishOptions): Promise<void>
}

/** Pull consumption: the engines that store jobs and hand them out on request. */
export interface PullConsumer extends Leases {
  /**
   * Takes up to `max` ready jobs from `queues`, highest priority first, then oldest first, and
   * leases them. Delayed jobs whose time has come and jobs whose lease expired count as ready.
   */
  reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]>
}

/** The leases of deliveries held by a consumer. */
export interface Leases {
  /** Extends leases by leaseMs from now. False for stale tokens. */
  extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]>
  /** Gives jobs back to be delivered again at once; the released delivery is not counted. */
  release(refs: readonly LeaseRef[]): Promise<boolean[]>
}

/** Settling finished deliveries. Every call is fenced by the delivery's token. */
export interface Settlement {
  /** Removes finished jobs. An entry is false when its token is stale (nothing changed). */
  ack(refs: readonly LeaseRef[]): Promise<boolean[]>
  /** Re-queues jobs with a new body after a delay. False for stale tokens. */
  retry(items: readonly RetryItem[]): Promise<boolean[]>
  /**
   * Puts jobs back unchanged (same body) to be delivered again after a delay, behind the jobs
   * that are ready by then, without counting the delivery: for a job that was not run because a
   * limit said "not yet" (rate limits, per-key concurrency). `deliveries` and the retry count stay
   * as they were, so deferrals never reach a max-deliveries limit. False for stale tokens.
   */
  defer(items: readonly DeferItem[]): Promise<boolean[]>
  /** Moves jobs to the dead-letter store with a reason. False for stale tokens. */
  deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]>
}

/** Operator calls on queues. */
export interface QueueAdmin {
  /** Stops deliveries from a queue until `resume`; jobs can still be published to it. */
  pause(queue: string): Promise<void>
  /** Lets a paused queue deliver again. */
  resume(queue: string): Promise<void>
  /** Deletes waiting and delayed jobs of a queue (not active ones). Returns how many. */
  purge(queue: string): Promise<number>
  /** Counts per queue; all queues the broker knows when `queues` is absent. */
  stats(queues?: readonly string[]): Promise<QueueStats[]>
}

/** Jobs that will not run again by themselves, kept with their reason until replayed or pruned. */
export interface DeadLetterStore {
  /** Dead-letter entries, newest first. */
  listDead(options?: ListDeadOptions): Promise<DeadJob[]>
  /**
   * Moves dead jobs back to their queues (all of them when ids is absent). Returns how many. A
   * replayed job's next delivery has a higher fence than any earlier one. An entry whose id is
   * live again (published anew meanwhile) stays dead and is not counted.
   */
  replayDead(ids?: readonly string[]): Promise<number>
  /** Deletes dead-letter entries (all when ids is absent). Returns how many. */
  deleteDead(ids?: readonly string[]): Promise<number>
  /** Deletes old entries (retention). Returns how many. */
  pruneDead(options: PruneDeadOptions): Promise<number>
}

/** A queue engine: the parts above, with the capability flags that say how it differs. */
export interface Broker extends Producer, Consumer, Leases, Settlement, QueueAdmin, DeadLetterStore {
  /** URL scheme, for banners and errors. */
  readonly scheme: string
  readonly capabilities: BrokerCapabilities

  /** Opens connections and creates what the engine needs (tables, scripts). Idempotent. */
  connect(): Promise<void>
  /** Closes connections; leases held are left to expire (or returned, for 'connection' leases). Idempotent. */
  close(): Promise<void>
  /**
   * Upkeep the engine cannot count on its server doing, run by the housekeeping leader each
   * round (PostgreSQL: VACUUM the jobs table when dead rows pile up, as on a server whose
   * autovacuum is off or behind). Returns what it did, for the log, or null for nothing.
   */
  tidy?(): Promise<string | null>
}
