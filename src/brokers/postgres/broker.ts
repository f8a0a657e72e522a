/**
 * The PostgreSQL broker: jobs are rows of `<schema>.jobs` (migrations/0001-schema.ts). Every batch
 * call is one statement (sql/). Consumers take jobs with FOR UPDATE SKIP LOCKED and sleep on
 * LISTEN/NOTIFY; polling is only the fallback while the LISTEN connection is down, and a wait
 * never sleeps past the next due time. `publish` can run on the caller's own transaction.
 */
import { randomInt } from 'node:crypto'
import type {
  BrokerCapabilities,
  DeadJob,
  DeadLetterItem,
  Delivery,
  JobLister,
  LeaseRef,
  ListDeadOptions,
  ListJobsOptions,
  ListedJob,
  OutgoingJob,
  PruneDeadOptions,
  PublishOptions,
  PullBroker,
  QueueStats,
  ReserveOptions,
  RetryItem,
  DeferItem,
} from '../../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../../contracts/consumer.js'
import { pullConsume } from '../../contracts/pull-consumer.js'
import { bucketOf, oldestBucket, ratePerSecond } from '../../core/throughput.js'
import { joinColumns, numberArray } from './arrays.js'
import type { PgDatabase } from './database.js'
import { DeadLetters } from './dead-letters.js'
import { PgPart } from './part.js'
import { LIST_JOBS, PAUSE, PURGE, RESUME, STATS } from './sql/admin.js'
import { JOBS_DEAD_ROWS, NEXT_DUE, PUBLISH, PUBLISH_NEW, RESERVE, VACUUM_JOBS } from './sql/jobs.js'
import { ACK, DEAD_LETTER, DEFER, EXTEND, PRUNE_THROUGHPUT, RELEASE, RETRY } from './sql/settle.js'
import { matched, refArrays, tokenOf } from './tokens.js'
import { transactionTarget } from './transaction.js'
import { Wakeups } from './wakeups.js'

/** How often a waiting reserve looks again while notifications are not flowing. */
const FALLBACK_POLL_MS = 250
/** tidy(): dead rows that make a VACUUM worth it, and the least time between two. */
const TIDY_MIN_DEAD = 50_000
const TIDY_GAP_MS = 60_000
/**
 * Jobs this process settles between two looks at the dead rows from the settle path, and the
 * least time between two VACUUMs started from there. A busy queue cannot wait for housekeeping:
 * every settled job leaves a dead entry at the head of the jobs_ready index, which each reserve
 * walks until a VACUUM removes it (at 500,000 settled jobs that walk was half of a reserve).
 */
const BUSY_TIDY_EVERY = 25_000
const BUSY_TIDY_GAP_MS = 5_000
/** Throughput rows per queue and bucket (see the throughput table). */
const SHARDS = 8

interface ReservedRow {
  id: string
  seq: number
  queue: string
  body: string
  priority: number
  deliveries: number
  fence: number
}

interface RefRow {
  id: string
  seq: number
  token: number
}

export class PostgresBroker extends PgPart implements PullBroker, JobLister {
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    crossQueueOrder: 'age',
    leases: 'timed',
    blockingReserve: true,
    transactionalPublish: true,
    idempotentPublish: true,
    listJobs: true,
  }
  private readonly seenQueues = new Set<string>()
  private readonly wakeups = new Wakeups()
  private readonly dead = new DeadLetters(() => this.ready())
  private listening: Promise<() => Promise<void>> | null = null
  private lastBucket = 0
  private settledSinceLook = 0
  private busyTidy: Promise<unknown> | null = null

  /** A URL opens a pool of its own; a backend passes the database its parts share. */
  constructor(target: string | PgDatabase) {
    super(target, 'broker')
  }

  private get channel(): string {
    return this.database.channel('jobs')
  }

  /**
   * LISTENs on the jobs channel, on the first reserve that may wait (a producer never holds the
   * connection). In place before that reserve looks, so no publish after the look goes unheard.
   */
  private listen(): Promise<unknown> {
    this.listening ??= this.database.notifier.on(this.channel, (p) => this.wakeups.notify(p))
    return this.listening
  }

  protected override async closing(): Promise<void> {
    this.wakeups.wakeAll()
    // A VACUUM started from the settle path finishes on the pool before it closes.
    await this.busyTidy
    const listening = this.listening
    this.listening = null
    await (
      await listening
    )?.()
  }

  async publish(jobs: readonly OutgoingJob[], options?: PublishOptions): Promise<void> {
    const db = this.ready()
    if (jobs.length === 0) return
    const tx = options?.transaction
    const on = tx === undefined ? undefined : transactionTarget(tx)
    const queues = [...new Set(jobs.map((j) => j.queue))]
    const fresh = queues.filter((q) => !this.seenQueues.has(q))
    const { texts, separator } = joinColumns([
      jobs.map((j) => j.id),
      jobs.map((j) => j.queue),
      jobs.map((j) => j.body),
    ])
    await db.run(
      jobs.every((j) => j.generatedId === true) ? PUBLISH_NEW : PUBLISH,
      [
        texts[0],
        texts[1],
        numberArray(jobs.map((j) => j.priority)),
        numberArray(jobs.map((j) => j.availableAt)),
        texts[2],
        fresh,
        this.channel,
        queues,
        separator,
      ],
      on,
    )
    // Only once committed: the caller's transaction may still roll the registration back.
    if (tx === undefined) for (const q of fresh) this.seenQueues.add(q)
  }

  consume(options: ConsumeOptions): Consumption {
    return pullConsume(this, options)
  }

  /**
   * VACUUMs the jobs table when its dead rows (every job leaves two: the reserve's update and the
   * ack's delete) pass TIDY_MIN_DEAD and a fifth of its live rows, and it was not vacuumed in the
   * last TIDY_GAP_MS. Autovacuum does this with the table's own settings (migration 1: 2 % scale
   * factors, no cost delay); this covers servers where it is off or falls behind, where index
   * scans over dead entries would slow every reserve.
   */
  tidy(): Promise<string | null> {
    return this.vacuumIfDead(TIDY_GAP_MS)
  }

  /**
   * Called as jobs settle: every BUSY_TIDY_EVERY of them, the tidy() rule with a gap of
   * BUSY_TIDY_GAP_MS, in the background (the settle does not wait for it; VACUUM SKIP_LOCKED
   * skips the table while another process vacuums it).
   */
  private settledSome(n: number): void {
    this.settledSinceLook += n
    if (this.settledSinceLook < BUSY_TIDY_EVERY || this.busyTidy) return
    this.settledSinceLook = 0
    this.busyTidy = this.vacuumIfDead(BUSY_TIDY_GAP_MS)
      .catch(() => null)
      .finally(() => (this.busyTidy = null))
  }

  private async vacuumIfDead(gapMs: number): Promise<string | null> {
    const db = this.ready()
    const { rows } = await db.db.query<{ dead: string; live: string; vacuumed: string | null }>(
      JOBS_DEAD_ROWS,
      [db.schema],
    )
    const row = rows[0]
    if (!row) return null
    const dead = Number(row.dead)
    if (dead < Math.max(TIDY_MIN_DEAD, Number(row.live) / 5)) return null
    if (row.vacuumed !== null && Date.now() - Number(row.vacuumed) < gapMs) return null
    await db.db.query(db.statement(VACUUM_JOBS).text)
    return `vacuumed the jobs table (${dead} dead rows)`
  }

  async reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    const deadline = Date.now() + (options.waitMs ?? 0)
    const names = new Set(queues)
    if (options.waitMs) await this.listen()
    for (;;) {
      // Closed while waiting: the wait ends empty.
      if (!this.isOpen) return []
      const db = this.ready()
      const waiter = this.wakeups.waiter((queue) => names.has(queue))
      try {
        const { rows } = await db.run<ReservedRow>(RESERVE, [queues, max, options.leaseMs])
        if (rows.length) {
          rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq)
          return rows.map((r) => ({
            id: r.id,
            token: tokenOf(r.seq, r.fence),
            fence: r.fence,
            queue: r.queue,
            body: r.body,
            priority: r.priority,
            deliveries: r.deliveries,
          }))
        }
        const left = deadline - Date.now()
        if (left <= 0 || options.signal?.aborted) return []
        const due = await db.run<{ next: number | null; now: number }>(NEXT_DUE, [queues])
        const { next, now } = due.rows[0]!
        let sleep = next === null ? left : Math.min(left, Math.max(1, next - now))
        if (!db.notifier.live) sleep = Math.min(sleep, FALLBACK_POLL_MS)
        await waiter.wait(sleep, options.signal)
      } finally {
        waiter.cancel()
      }
    }
  }

  /** Runs a settle statement on the refs with well-formed tokens; false for the others. */
  private async fenced<T extends LeaseRef>(
    refs: readonly T[],
    text: string,
    extra: (items: T[]) => unknown[],
    repeatable = false,
  ): Promise<boolean[]> {
    const db = this.ready()
    if (!refs.length) return []
    const { ids, seqs, fences, items } = refArrays(refs)
    if (!items.length) return refs.map(() => false)
    const { rows } = await db.run<RefRow>(text, [ids, seqs, fences, ...extra(items)])
    return matched(refs, rows, repeatable)
  }

  /** The throughput bucket and shard of a settle call, pruning old buckets when a new one starts. */
  private async bucket(): Promise<[number, number]> {
    const now = Date.now()
    const bucket = bucketOf(now)
    if (bucket !== this.lastBucket) {
      this.lastBucket = bucket
      await this.ready().run(PRUNE_THROUGHPUT, [oldestBucket(now)])
    }
    return [bucket, randomInt(SHARDS)]
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    const counted = await this.bucket()
    const done = await this.fenced(refs, ACK, () => counted)
    this.settledSome(refs.length)
    return done
  }

  extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]> {
    return this.fenced(refs, EXTEND, () => [leaseMs], true)
  }

  release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return this.fenced(refs, RELEASE, () => [this.channel])
  }

  retry(items: readonly RetryItem[]): Promise<boolean[]> {
    return this.fenced(items, RETRY, (ok) => [
      ok.map((i) => i.body),
      ok.map((i) => Math.max(0, Math.round(i.delayMs))),
      this.channel,
    ])
  }

  defer(items: readonly DeferItem[]): Promise<boolean[]> {
    return this.fenced(items, DEFER, (ok) => [
      ok.map((i) => Math.max(0, Math.round(i.delayMs))),
      this.channel,
    ])
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    const counted = await this.bucket()
    return this.fenced(items, DEAD_LETTER, (ok) => [...counted, ok.map((i) => i.reason)])
  }

  async pause(queue: string): Promise<void> {
    await this.ready().run(PAUSE, [queue])
  }

  async resume(queue: string): Promise<void> {
    await this.ready().run(RESUME, [queue, this.channel])
  }

  async purge(queue: string): Promise<number> {
    return (await this.ready().run(PURGE, [queue])).rowCount ?? 0
  }

  async listJobs(options: ListJobsOptions): Promise<ListedJob[]> {
    const { rows } = await this.ready().run<ListedJob>(LIST_JOBS, [
      options.queue,
      options.state,
      options.limit ?? 100,
      options.offset ?? 0,
    ])
    return rows
  }

  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const { rows } = await this.ready().run<{
      queue: string
      waiting: number
      delayed: number
      active: number
      dead: number
      paused: boolean
      settled: Record<string, number> | null
      now: number
    }>(STATS, [queues ?? null, oldestBucket(Date.now())])
    const byName = new Map(
      rows.map((r) => [
        r.queue,
        {
          queue: r.queue,
          waiting: r.waiting,
          delayed: r.delayed,
          active: r.active,
          dead: r.dead,
          throughput: ratePerSecond((b) => Number(r.settled?.[b] ?? 0), Date.now()),
          paused: r.paused,
        },
      ]),
    )
    return (queues ?? rows.map((r) => r.queue)).map((q) => byName.get(q)!)
  }

  listDead(options?: ListDeadOptions): Promise<DeadJob[]> {
    return this.dead.list(options)
  }

  replayDead(ids?: readonly string[]): Promise<number> {
    return this.dead.replay(ids, this.channel)
  }

  deleteDead(ids?: readonly string[]): Promise<number> {
    return this.dead.delete(ids)
  }

  pruneDead(options: PruneDeadOptions): Promise<number> {
    return this.dead.prune(options)
  }
}
