/**
 * The SQLite broker, celeriac's embedded default: one file shared safely by an API process and
 * several worker processes (WAL, BEGIN IMMEDIATE). Every batch call is one transaction.
 *
 * A delivery's token is "<seq>:<n>": seq is the job's rowid (so acks are primary-key lookups)
 * and n the delivery's fence, stored in the row: a counter raised once per reserve transaction, so
 * a later delivery of the same job always has a higher one and a stale token no longer matches.
 * Settle calls match the ref's id too: a token presented with another job's id is stale.
 */
import type BetterSqlite3 from 'better-sqlite3'
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
import type { Db, SqliteDatabase } from './database.js'
import { DeadLetters } from './dead-letters.js'
import { callerConnection, DELAYED, insertJob, publishInCallerTransaction, READY } from './enqueue.js'
import { SqlitePart } from './part.js'
import { prepareStatements, type Statements } from './statements.js'

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

type Tx<F extends (...args: never[]) => unknown> = BetterSqlite3.Transaction<F>

interface Prepared extends Statements {
  publishTx: Tx<(jobs: readonly OutgoingJob[], now: number) => string[]>
  reserveTx: Tx<(queues: readonly string[], max: number, leaseMs: number) => { rows: Row[]; fence: number }>
}

export class SqliteBroker extends SqlitePart<Prepared> implements PullBroker, JobLister {
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    crossQueueOrder: 'age',
    leases: 'timed',
    blockingReserve: false,
    transactionalPublish: true,
    idempotentPublish: true,
    listJobs: true,
  }
  private readonly seenQueues = new Set<string>()
  private readonly dead = new DeadLetters(this.database, () => this.st)
  private lastBucket = 0

  /** A path opens a connection of its own; a backend passes the connection its parts share. */
  constructor(target: string | SqliteDatabase) {
    super(target, 'broker')
  }

  protected prepare(db: Db): Prepared {
    const st = prepareStatements(db)
    const publishTx = db.transaction((jobs: readonly OutgoingJob[], now: number) => {
      const added: string[] = []
      for (const j of jobs) {
        insertJob(st, j, now)
        if (!this.seenQueues.has(j.queue) && !added.includes(j.queue)) {
          st.addQueue.run(j.queue)
          added.push(j.queue)
        }
      }
      return added
    })
    const reserveTx = db.transaction((queues: readonly string[], max: number, leaseMs: number) => {
      const now = Date.now()
      if (st.anyPaused.get()) queues = queues.filter((q) => !st.isPaused.get(q))
      for (const q of queues) {
        st.reclaimExpired.run(q, now)
        st.promoteDue.run(q, now)
      }
      let seqs: number[]
      if (queues.length === 0) return { rows: [], fence: 0 }
      if (queues.length === 1) {
        seqs = st.pickOne.all(queues[0], max) as number[]
      } else {
        const picked: { seq: number; priority: number }[] = []
        for (const q of queues)
          picked.push(...(st.pickOneWithPriority.all(q, max) as { seq: number; priority: number }[]))
        picked.sort((a, b) => b.priority - a.priority || a.seq - b.seq)
        seqs = picked.slice(0, max).map((p) => p.seq)
      }
      if (seqs.length === 0) return { rows: [], fence: 0 }
      const fence = st.nextFence.get() as number
      const rows = st.lease.all(now + leaseMs, fence, JSON.stringify(seqs)) as Row[]
      rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      return { rows, fence }
    })
    return { ...st, publishTx, reserveTx }
  }

  async publish(jobs: readonly OutgoingJob[], options?: PublishOptions): Promise<void> {
    if (options?.transaction !== undefined) {
      // Throws unless connected: the schema the caller's statements need exists only then.
      void this.st
      // Checked even for an empty batch: a wrong connection is a bug either way.
      const db = callerConnection(options.transaction, this.path, this.database.db)
      if (jobs.length) publishInCallerTransaction(db, jobs, Date.now())
      // Queues are not remembered in seenQueues: the caller may still roll them back.
      return
    }
    if (jobs.length === 0) return
    const added = await this.database.write(this.st.publishTx, jobs, Date.now())
    // Remembered only once committed, so a failed publish cannot leave a queue unregistered.
    for (const q of added) this.seenQueues.add(q)
    this.database.notify()
  }

  consume(options: ConsumeOptions): Consumption {
    return pullConsume(this, options)
  }

  async reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    const st = this.st
    const database = this.database
    const deadline = Date.now() + (options.waitMs ?? 0)
    const list = JSON.stringify(queues)
    for (;;) {
      // Closed while waiting: the wait ends empty.
      if (!this.isOpen) return []
      const seen = database.snapshot()
      if (await database.run(() => st.mightHaveWork.get({ queues: list, now: Date.now() }) === 1)) {
        const { rows, fence } = await database.write(st.reserveTx, queues, max, options.leaseMs)
        if (rows.length)
          return rows.map((r) => ({
            id: r.id,
            token: `${r.seq}:${fence}`,
            fence,
            queue: r.queue,
            // A row written by something else may hold a BLOB: hand the worker text, which it checks.
            body: typeof r.body === 'string' ? r.body : Buffer.from(r.body as Uint8Array).toString('utf8'),
            priority: r.priority,
            deliveries: r.deliveries,
          }))
      }
      const left = deadline - Date.now()
      if (left <= 0 || options.signal?.aborted || !this.isOpen) return []
      const next = await database.run(() => this.nextDue(queues))
      const untilDue = next === null ? left : Math.max(1, next - Date.now())
      await database.changed(Math.min(left, untilDue), options.signal, seen)
    }
  }

  /** When the first delayed job or lease of these queues comes due; null when none. */
  private nextDue(queues: readonly string[]): number | null {
    let next: number | null = null
    for (const q of queues) {
      const at = this.st.nextDue.get(q) as number | null
      if (at !== null && (next === null || at < next)) next = at
    }
    return next
  }

  /** Runs `fn` for each ref with a valid token in one transaction; false for the others. */
  private fenced<T extends LeaseRef>(items: readonly T[], fn: (item: T, seq: number, n: number) => number) {
    const tx = this.database.db.transaction(() =>
      items.map((it) => {
        const t = parseToken(it)
        return t !== null && fn(it, t[0], t[1]) > 0
      }),
    )
    return this.database.write(tx)
  }

  /** Runs `fn` like `fenced`, counting the settled jobs per queue for throughput in the same transaction. */
  private settle<T extends LeaseRef>(
    items: readonly T[],
    fn: (item: T, seq: number, n: number) => string | undefined,
  ): Promise<boolean[]> {
    const tx = this.database.db.transaction(() => {
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
    return this.database.write(tx)
  }

  async pause(queue: string): Promise<void> {
    const st = this.st
    await this.database.run(() => st.pause.run(queue))
  }

  async resume(queue: string): Promise<void> {
    const st = this.st
    await this.database.run(() => st.resume.run(queue))
    this.database.notify()
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return this.settle(refs, (r, seq, n) => this.st.ack.get(seq, n, r.id) as string | undefined)
  }

  async extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]> {
    const until = Date.now() + leaseMs
    return this.fenced(refs, (r, seq, n) => this.st.extend.run(until, seq, n, r.id).changes)
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    const out = await this.fenced(refs, (r, seq, n) => this.st.release.run(seq, n, r.id).changes)
    this.database.notify()
    return out
  }

  async retry(items: readonly RetryItem[]): Promise<boolean[]> {
    const now = Date.now()
    const out = await this.fenced(
      items,
      (it, seq, n) =>
        this.st.retry.run(
          it.delayMs > 0 ? DELAYED : READY,
          it.delayMs > 0 ? now + it.delayMs : 0,
          it.body,
          seq,
          n,
          it.id,
        ).changes,
    )
    this.database.notify()
    return out
  }

  async defer(items: readonly DeferItem[]): Promise<boolean[]> {
    const now = Date.now()
    const out = await this.fenced(
      items,
      (it, seq, n) =>
        this.st.defer.run(
          it.delayMs > 0 ? DELAYED : READY,
          it.delayMs > 0 ? now + it.delayMs : 0,
          seq,
          n,
          it.id,
        ).changes,
    )
    this.database.notify()
    return out
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    const now = Date.now()
    return this.settle(items, (it, seq, n) => {
      const row = this.st.take.get(seq, n, it.id) as Row | undefined
      if (!row) return undefined
      this.st.insertDead.run(row.id, row.queue, row.priority, row.body, it.reason, now, row.deliveries)
      return row.queue
    })
  }

  listDead(options?: ListDeadOptions): Promise<DeadJob[]> {
    return this.dead.list(options)
  }

  replayDead(ids?: readonly string[]): Promise<number> {
    return this.dead.replay(ids)
  }

  deleteDead(ids?: readonly string[]): Promise<number> {
    return this.dead.delete(ids)
  }

  pruneDead(options: PruneDeadOptions): Promise<number> {
    return this.dead.prune(options)
  }

  async purge(queue: string): Promise<number> {
    const st = this.st
    return this.database.run(() => st.purge.run(queue).changes)
  }

  async listJobs(options: ListJobsOptions): Promise<ListedJob[]> {
    const st = this.st
    const statement =
      options.state === 'waiting'
        ? st.listWaiting
        : options.state === 'delayed'
          ? st.listDelayed
          : st.listActive
    return this.database.run(
      () =>
        statement.all(options.queue, Date.now(), options.limit ?? 100, options.offset ?? 0) as ListedJob[],
    )
  }

  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const st = this.st
    const read = this.database.db.transaction(() => {
      const names = queues ?? (st.listQueues.all() as string[])
      const now = Date.now()
      return names.map((queue) => {
        const c = st.countQueue.get(now, now, queue) as {
          waiting: number | null
          delayed: number | null
          active: number | null
        }
        const settled = new Map(
          (st.readSettled.all(queue, oldestBucket(now)) as { bucket: number; n: number }[]).map((r) => [
            r.bucket,
            r.n,
          ]),
        )
        return {
          queue,
          waiting: c.waiting ?? 0,
          delayed: c.delayed ?? 0,
          active: c.active ?? 0,
          dead: st.countDead.get(queue) as number,
          throughput: ratePerSecond((b) => settled.get(b) ?? 0, now),
          paused: st.isPaused.get(queue) === 1,
        }
      })
    })
    return this.database.run(() => read())
  }
}
