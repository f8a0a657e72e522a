/**
 * The SQLite broker, celeriac's embedded default: one file shared safely by an API process and
 * several worker processes (WAL, BEGIN IMMEDIATE). Every batch call is one transaction.
 *
 * A delivery's token is "<seq>:<n>": seq is the job's rowid (so acks are primary-key lookups)
 * and n the delivery's fence, stored in the row: a counter raised once per reserve transaction, so
 * a later delivery of the same job always has a higher one and a stale token no longer matches.
 */
import type BetterSqlite3 from 'better-sqlite3'
import type {
  PullBroker,
  BrokerCapabilities,
  DeadJob,
  DeadLetterItem,
  Delivery,
  LeaseRef,
  ListDeadOptions,
  OutgoingJob,
  PruneDeadOptions,
  QueueStats,
  ReserveOptions,
  RetryItem,
} from '../../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../../contracts/consumer.js'
import { pullConsume } from '../../contracts/pull-consumer.js'
import { BrokerError } from '../../core/errors.js'
import { bucketOf, oldestBucket, ratePerSecond } from '../../core/throughput.js'
import { acquire, type SharedDb } from './database.js'
import { prepareStatements, type Statements } from './statements.js'

const READY = 0
const DELAYED = 1

interface Row {
  seq: number
  id: string
  queue: string
  body: string
  priority: number
  deliveries: number
}

function parseToken(ref: LeaseRef): [number, number] | null {
  const i = ref.token.indexOf(':')
  if (i <= 0) return null
  const seq = Number(ref.token.slice(0, i))
  const n = Number(ref.token.slice(i + 1))
  return Number.isSafeInteger(seq) && Number.isSafeInteger(n) ? [seq, n] : null
}

export class SqliteBroker implements PullBroker {
  readonly scheme = 'sqlite'
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    leases: 'timed',
    blockingReserve: false,
    transactionalPublish: false,
    idempotentPublish: true,
  }
  private shared: SharedDb | null = null
  private st!: Statements
  private publishTx!: BetterSqlite3.Transaction<(jobs: readonly OutgoingJob[], now: number) => void>
  private reserveTx!: BetterSqlite3.Transaction<
    (queues: readonly string[], max: number, leaseMs: number) => Row[] & { token?: number }
  >
  private readonly seenQueues = new Set<string>()

  constructor(readonly path: string) {}

  async connect(): Promise<void> {
    if (this.shared) return
    this.shared = acquire(this.path)
    const db = this.shared.db
    this.st = prepareStatements(db)
    const st = this.st
    this.publishTx = db.transaction((jobs: readonly OutgoingJob[], now: number) => {
      for (const j of jobs) {
        const delayed = j.availableAt !== undefined && j.availableAt > now
        st.insert.run(
          j.id,
          j.queue,
          j.priority,
          delayed ? DELAYED : READY,
          delayed ? j.availableAt : 0,
          j.body,
        )
        if (!this.seenQueues.has(j.queue)) {
          st.addQueue.run(j.queue)
          this.seenQueues.add(j.queue)
        }
      }
    })
    this.reserveTx = db.transaction((queues: readonly string[], max: number, leaseMs: number) => {
      const now = Date.now()
      st.promoteDue.run(now)
      if (st.anyPaused.get()) queues = queues.filter((q) => !st.isPaused.get(q))
      let seqs: number[]
      if (queues.length === 0) return []
      if (queues.length === 1) {
        seqs = st.pickOne.all(queues[0], max) as number[]
      } else {
        const picked: { seq: number; priority: number }[] = []
        for (const q of queues)
          picked.push(...(st.pickOneWithPriority.all(q, max) as { seq: number; priority: number }[]))
        picked.sort((a, b) => b.priority - a.priority || a.seq - b.seq)
        seqs = picked.slice(0, max).map((p) => p.seq)
      }
      if (seqs.length === 0) return []
      const n = st.nextFence.get() as number
      const rows = st.lease.all(now + leaseMs, n, JSON.stringify(seqs)) as Row[]
      rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      return Object.assign(rows, { token: n })
    })
  }

  private get db() {
    return this.connected().db
  }

  private connected(): SharedDb {
    if (!this.shared) throw new BrokerError('the SQLite broker is not connected (call connect() first)')
    return this.shared
  }

  async close(): Promise<void> {
    this.shared?.release()
    this.shared = null
  }

  async publish(jobs: readonly OutgoingJob[]): Promise<void> {
    if (jobs.length === 0) return
    const shared = this.connected()
    this.publishTx.immediate(jobs, Date.now())
    shared.notify()
  }

  consume(options: ConsumeOptions): Consumption {
    return pullConsume(this, options)
  }

  async reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    this.connected()
    const deadline = Date.now() + (options.waitMs ?? 0)
    for (;;) {
      const rows = this.reserveTx.immediate(queues, max, options.leaseMs)
      if (rows.length) {
        const n = rows.token!
        return rows.map((r) => ({
          id: r.id,
          token: `${r.seq}:${n}`,
          fence: n,
          queue: r.queue,
          body: r.body,
          priority: r.priority,
          deliveries: r.deliveries,
        }))
      }
      const left = deadline - Date.now()
      if (left <= 0 || options.signal?.aborted || !this.shared) return []
      const next = this.st.nextDue.get() as number | null
      const untilDue = next === null ? left : Math.max(1, next - Date.now())
      await this.shared.changed(Math.min(left, untilDue), options.signal)
    }
  }

  /** Runs `fn` for each ref with a valid token in one transaction; false for the others. */
  private fenced<T extends LeaseRef>(
    items: readonly T[],
    fn: (item: T, seq: number, n: number) => number,
  ): boolean[] {
    const db = this.db
    return db
      .transaction(() =>
        items.map((it) => {
          const t = parseToken(it)
          return t !== null && fn(it, t[0], t[1]) > 0
        }),
      )
      .immediate()
  }

  /** Runs `fn` like `fenced`, counting the settled jobs per queue for throughput in the same transaction. */
  private settle<T extends LeaseRef>(
    items: readonly T[],
    fn: (item: T, seq: number, n: number) => string | undefined,
  ): boolean[] {
    const db = this.db
    return db
      .transaction(() => {
        const perQueue = new Map<string, number>()
        const out = items.map((it) => {
          const t = parseToken(it)
          const queue = t === null ? undefined : fn(it, t[0], t[1])
          if (queue !== undefined) perQueue.set(queue, (perQueue.get(queue) ?? 0) + 1)
          return queue !== undefined
        })
        if (perQueue.size) {
          const now = Date.now()
          const bucket = bucketOf(now)
          if (bucket !== this.lastBucket) {
            this.st.pruneSettled.run(oldestBucket(now))
            this.lastBucket = bucket
          }
          for (const [queue, n] of perQueue) this.st.countSettled.run(queue, bucket, n)
        }
        return out
      })
      .immediate()
  }

  private lastBucket = 0

  async pause(queue: string): Promise<void> {
    this.st.pause.run(queue)
  }

  async resume(queue: string): Promise<void> {
    this.st.resume.run(queue)
    this.shared?.notify()
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return this.settle(refs, (_r, seq, n) => this.st.ack.get(seq, n) as string | undefined)
  }

  async extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]> {
    const until = Date.now() + leaseMs
    return this.fenced(refs, (_r, seq, n) => this.st.extend.run(until, seq, n).changes)
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    const out = this.fenced(refs, (_r, seq, n) => this.st.release.run(seq, n).changes)
    this.shared?.notify()
    return out
  }

  async retry(items: readonly RetryItem[]): Promise<boolean[]> {
    const now = Date.now()
    const out = this.fenced(
      items,
      (it, seq, n) =>
        this.st.retry.run(
          it.delayMs > 0 ? DELAYED : READY,
          it.delayMs > 0 ? now + it.delayMs : 0,
          it.body,
          seq,
          n,
        ).changes,
    )
    this.shared?.notify()
    return out
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    const now = Date.now()
    return this.settle(items, (it, seq, n) => {
      const row = this.st.take.get(seq, n) as Row | undefined
      if (!row) return undefined
      this.st.insertDead.run(row.id, row.queue, row.priority, row.body, it.reason, now, row.deliveries)
      return row.queue
    })
  }

  async listDead(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const limit = options.limit ?? 100
    const offset = options.offset ?? 0
    const rows = (
      options.queue
        ? this.st.listDeadQueue.all(options.queue, limit, offset)
        : this.st.listDead.all(limit, offset)
    ) as {
      id: string
      queue: string
      priority: number
      body: string
      reason: string
      failed_at: number
      deliveries: number
    }[]
    return rows.map((r) => ({
      id: r.id,
      queue: r.queue,
      priority: r.priority,
      body: r.body,
      reason: r.reason,
      failedAt: r.failed_at,
      deliveries: r.deliveries,
    }))
  }

  async replayDead(ids?: readonly string[]): Promise<number> {
    const n = this.db
      .transaction(() => {
        const rows = (ids ? this.st.takeDeadIds.all(JSON.stringify(ids)) : this.st.takeDeadAll.all()) as {
          id: string
          queue: string
          priority: number
          body: string
          failed_at: number
        }[]
        // Back in the order they failed, so the oldest failure runs first.
        rows.sort((a, b) => a.failed_at - b.failed_at)
        for (const r of rows) this.st.insertReplayed.run(r.id, r.queue, r.priority, r.body)
        return rows.length
      })
      .immediate()
    if (n) this.shared?.notify()
    return n
  }

  async pruneDead(options: PruneDeadOptions): Promise<number> {
    return this.db
      .transaction(() => {
        let n = 0
        if (options.before !== undefined) n += this.st.pruneDeadBefore.run(options.before).changes
        if (options.keep !== undefined) n += this.st.pruneDeadKeep.run(Math.max(0, options.keep)).changes
        return n
      })
      .immediate()
  }

  async deleteDead(ids?: readonly string[]): Promise<number> {
    if (!ids) return this.st.deleteAllDead.run().changes
    return this.db
      .transaction(() => ids.reduce((n, id) => n + this.st.deleteDead.run(id).changes, 0))
      .immediate()
  }

  async purge(queue: string): Promise<number> {
    return this.st.purge.run(queue).changes
  }

  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const names = queues ?? (this.st.listQueues.all() as string[])
    const now = Date.now()
    return this.db.transaction(() =>
      names.map((queue) => {
        const c = this.st.countQueue.get(now, now, queue) as {
          waiting: number | null
          delayed: number | null
          active: number | null
        }
        const dead = this.st.countDead.get(queue) as number
        const settled = new Map(
          (this.st.readSettled.all(queue, oldestBucket(now)) as { bucket: number; n: number }[]).map((r) => [
            r.bucket,
            r.n,
          ]),
        )
        return {
          queue,
          waiting: c.waiting ?? 0,
          delayed: c.delayed ?? 0,
          active: c.active ?? 0,
          dead,
          throughput: ratePerSecond((b) => settled.get(b) ?? 0, now),
          paused: this.st.isPaused.get(queue) === 1,
        }
      }),
    )()
  }
}
