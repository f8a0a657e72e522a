/**
 * The memory broker: one process, no persistence. For tests, scripts and `memory://` apps whose
 * producer and worker share a process. Keeps the same contract as every other broker.
 */
import type {
  PullBroker,
  BrokerCapabilities,
  JobLister,
  ListJobsOptions,
  ListedJob,
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
  DeferItem,
} from '../../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../../contracts/consumer.js'
import { pullConsume } from '../../contracts/pull-consumer.js'
import { BrokerError } from '../../core/errors.js'
import { ThroughputCounter } from '../../core/throughput.js'
import { Fifo } from './fifo.js'
import { MinHeap } from './heap.js'
import { Waiters } from './waiters.js'

interface Job {
  id: string
  queue: string
  body: string
  priority: number
  seq: number
  /** ready: in a bucket; timed: waiting for availableAt (delay or lease expiry). */
  state: 'ready' | 'delayed' | 'leased'
  availableAt: number
  token: string
  deliveries: number
}

const PRIORITIES = 10

interface MemoryState {
  readonly jobs: Map<string, Job>
  /** Per queue, one FIFO per priority; entries go stale when a job leaves the ready state. */
  readonly ready: Map<string, Fifo<Entry>[]>
  /**
   * Delayed and leased jobs by due time. An entry is stale once its job left the timed state or
   * its time moved (an extension pushes a new entry); stale entries are skipped when they surface.
   */
  readonly timed: MinHeap<Job>
  readonly dead: Map<string, DeadJob>
  readonly waiters: Waiters
  readonly paused: Set<string>
  readonly throughput: ThroughputCounter
  seq: number
  tokenSeq: number
  /** Timed entries looked at by reserves (for tests: a reserve costs what is due, not all that waits). */
  timedVisits: number
}

function newState(): MemoryState {
  return {
    jobs: new Map(),
    ready: new Map(),
    timed: new MinHeap(),
    dead: new Map(),
    waiters: new Waiters(),
    paused: new Set(),
    throughput: new ThroughputCounter(),
    seq: 0,
    tokenSeq: 0,
    timedVisits: 0,
  }
}

/** A ready-queue entry; stale once the job's seq or state has moved on. */
interface Entry {
  job: Job
  seq: number
}

export class MemoryBroker implements PullBroker, JobLister {
  readonly scheme = 'memory'
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    crossQueueOrder: 'age',
    leases: 'timed',
    blockingReserve: true,
    transactionalPublish: false,
    idempotentPublish: true,
    listJobs: true,
  }
  /** The engine: shared by every client made with `client()`, as a server is by its connections. */
  private readonly s: MemoryState
  private closed = false

  constructor(shared?: MemoryBroker) {
    this.s = shared ? shared.s : newState()
  }

  /** Timed entries (delayed jobs, leases) looked at by reserves so far. */
  get timedVisits(): number {
    return this.s.timedVisits
  }

  /** Another client of the same in-process engine, with its own open/closed state. */
  client(): MemoryBroker {
    return new MemoryBroker(this)
  }

  async connect(): Promise<void> {
    this.closed = false
  }
  async close(): Promise<void> {
    this.closed = true
    this.s.waiters.wakeAll()
  }

  private buckets(queue: string): Fifo<Entry>[] {
    let b = this.s.ready.get(queue)
    if (!b) {
      b = Array.from({ length: PRIORITIES }, () => new Fifo<Entry>())
      this.s.ready.set(queue, b)
    }
    return b
  }

  /**
   * A job coming back (released, or its lease expired) keeps its place in line: its old seq puts
   * it after older ready jobs and ahead of newer ones. Every other job is the newest (a new seq)
   * and goes to the back. The FIFOs stay in seq order either way.
   */
  private makeReady(job: Job, back = true): void {
    job.state = 'ready'
    const fifo = this.buckets(job.queue)[job.priority]!
    if (back) fifo.push({ job, seq: job.seq })
    else fifo.insertSorted({ job, seq: job.seq }, (e) => e.seq)
  }

  private makeTimed(job: Job, state: 'delayed' | 'leased', at: number): void {
    job.state = state
    job.availableAt = at
    this.s.timed.push(at, job)
  }

  async publish(jobs: readonly OutgoingJob[]): Promise<void> {
    const now = Date.now()
    for (const j of jobs) {
      if (this.s.jobs.has(j.id)) continue
      const job: Job = {
        id: j.id,
        queue: j.queue,
        body: j.body,
        priority: clampPriority(j.priority),
        seq: ++this.s.seq,
        state: 'ready',
        availableAt: now,
        token: '',
        deliveries: 0,
      }
      this.s.jobs.set(job.id, job)
      if (j.availableAt !== undefined && j.availableAt > now) this.makeTimed(job, 'delayed', j.availableAt)
      else this.makeReady(job)
    }
    this.s.waiters.wakeAll()
  }

  /**
   * Due delayed jobs join the back of their priority, in the order they came due (ties in the
   * order they were delayed); expired leases go back with their original place in line (they
   * were taken before anything waiting now was).
   */
  private promoteDue(now: number): void {
    const due: Job[] = []
    while (this.s.timed.peekKey() <= now) {
      const key = this.s.timed.peekKey()
      const job = this.s.timed.pop()!
      this.s.timedVisits++
      if (job.state === 'ready' || job.availableAt !== key || this.s.jobs.get(job.id) !== job) continue
      if (job.state === 'leased') this.makeReady(job, false)
      else due.push(job)
    }
    // The heap does not keep the order of equal keys.
    due.sort((a, b) => a.availableAt - b.availableAt || a.seq - b.seq)
    for (const job of due) {
      job.seq = ++this.s.seq
      this.makeReady(job)
    }
  }

  private take(queues: readonly string[], max: number, leaseMs: number): Delivery[] {
    const now = Date.now()
    this.promoteDue(now)
    const out: Delivery[] = []
    for (let p = PRIORITIES - 1; p >= 0 && out.length < max; p--) {
      // Oldest first across the queues at this priority.
      for (;;) {
        if (out.length >= max) break
        let best: Fifo<Entry> | null = null
        for (const q of queues) {
          if (this.s.paused.has(q)) continue
          const fifo = this.s.ready.get(q)?.[p]
          if (!fifo) continue
          let head = fifo.peek()
          while (head && (head.job.state !== 'ready' || head.seq !== head.job.seq)) {
            fifo.shift()
            head = fifo.peek()
          }
          if (head && (!best || head.seq < best.peek()!.seq)) best = fifo
        }
        if (!best) break
        const { job } = best.shift()!
        const fence = ++this.s.tokenSeq
        job.token = `${fence}`
        job.deliveries++
        this.makeTimed(job, 'leased', now + leaseMs)
        out.push({
          id: job.id,
          token: job.token,
          fence,
          queue: job.queue,
          body: job.body,
          priority: job.priority,
          deliveries: job.deliveries,
        })
      }
    }
    return out
  }

  consume(options: ConsumeOptions): Consumption {
    return pullConsume(this, options)
  }

  async reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    if (this.closed) throw new BrokerError('the memory broker is closed')
    const deadline = Date.now() + (options.waitMs ?? 0)
    for (;;) {
      const got = this.take(queues, max, options.leaseMs)
      const now = Date.now()
      const left = deadline - now
      if (got.length || left <= 0 || options.signal?.aborted || this.closed) return got
      // Woken by a publish, or when the next delayed job or lease comes due.
      await this.s.waiters.wait(Math.max(1, Math.min(left, this.s.timed.peekKey() - now)), options.signal)
    }
  }

  private live(ref: LeaseRef): Job | undefined {
    const job = this.s.jobs.get(ref.id)
    return job && job.state === 'leased' && job.token === ref.token ? job : undefined
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => {
      const job = this.live(r)
      if (!job) return false
      this.s.jobs.delete(job.id)
      this.s.throughput.add(job.queue, 1)
      return true
    })
  }

  async pause(queue: string): Promise<void> {
    this.s.paused.add(queue)
  }

  async resume(queue: string): Promise<void> {
    this.s.paused.delete(queue)
    this.s.waiters.wakeAll()
  }

  async extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]> {
    const at = Date.now() + leaseMs
    return refs.map((r) => {
      const job = this.live(r)
      if (job) this.makeTimed(job, 'leased', at)
      return job !== undefined
    })
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    const out = refs.map((r) => {
      const job = this.live(r)
      if (!job) return false
      job.token = ''
      job.deliveries = Math.max(0, job.deliveries - 1)
      this.makeReady(job, false)
      return true
    })
    this.s.waiters.wakeAll()
    return out
  }

  async retry(items: readonly RetryItem[]): Promise<boolean[]> {
    const now = Date.now()
    const out = items.map((it) => {
      const job = this.live(it)
      if (!job) return false
      job.body = it.body
      job.token = ''
      job.seq = ++this.s.seq
      if (it.delayMs > 0) this.makeTimed(job, 'delayed', now + it.delayMs)
      else this.makeReady(job)
      return true
    })
    this.s.waiters.wakeAll()
    return out
  }

  async defer(items: readonly DeferItem[]): Promise<boolean[]> {
    const now = Date.now()
    const out = items.map((it) => {
      const job = this.live(it)
      if (!job) return false
      job.token = ''
      job.deliveries = Math.max(0, job.deliveries - 1)
      job.seq = ++this.s.seq
      if (it.delayMs > 0) this.makeTimed(job, 'delayed', now + it.delayMs)
      else this.makeReady(job)
      return true
    })
    this.s.waiters.wakeAll()
    return out
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    const now = Date.now()
    return items.map((it) => {
      const job = this.live(it)
      if (!job) return false
      this.s.jobs.delete(job.id)
      this.s.throughput.add(job.queue, 1)
      this.s.dead.delete(job.id)
      this.s.dead.set(job.id, {
        id: job.id,
        queue: job.queue,
        body: job.body,
        priority: job.priority,
        reason: it.reason,
        failedAt: now,
        deliveries: job.deliveries,
      })
      return true
    })
  }

  async listDead(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const all = [...this.s.dead.values()].reverse().filter((d) => !options.queue || d.queue === options.queue)
    const offset = options.offset ?? 0
    return all.slice(offset, offset + (options.limit ?? 100))
  }

  async replayDead(ids?: readonly string[]): Promise<number> {
    // In the order they failed (the map's order), oldest first, whatever the order of `ids`.
    const wanted = ids && new Set(ids)
    const chosen = [...this.s.dead.values()].filter((d) => !wanted || wanted.has(d.id))
    let moved = 0
    for (const d of chosen) {
      // Published anew meanwhile: the live copy runs, this entry stays dead.
      if (this.s.jobs.has(d.id)) continue
      this.s.dead.delete(d.id)
      moved++
      const job: Job = {
        id: d.id,
        queue: d.queue,
        body: d.body,
        priority: d.priority,
        seq: ++this.s.seq,
        state: 'ready',
        availableAt: 0,
        token: '',
        deliveries: 0,
      }
      this.s.jobs.set(job.id, job)
      this.makeReady(job)
    }
    if (moved) this.s.waiters.wakeAll()
    return moved
  }

  async pruneDead(options: PruneDeadOptions): Promise<number> {
    let n = 0
    if (options.before !== undefined)
      for (const d of [...this.s.dead.values()])
        if (d.failedAt < options.before && this.s.dead.delete(d.id)) n++
    if (options.keep !== undefined) {
      const seen = new Map<string, number>()
      // Newest first: the map keeps insertion order, oldest first.
      for (const d of [...this.s.dead.values()].reverse()) {
        const k = (seen.get(d.queue) ?? 0) + 1
        seen.set(d.queue, k)
        if (k > options.keep && this.s.dead.delete(d.id)) n++
      }
    }
    return n
  }

  async deleteDead(ids?: readonly string[]): Promise<number> {
    if (!ids) {
      const n = this.s.dead.size
      this.s.dead.clear()
      return n
    }
    return ids.filter((id) => this.s.dead.delete(id)).length
  }

  async purge(queue: string): Promise<number> {
    let n = 0
    for (const job of [...this.s.jobs.values()]) {
      if (job.queue === queue && job.state !== 'leased') {
        this.s.jobs.delete(job.id)
        job.state = 'delayed' // leaves stale bucket entries behind, skipped on take
        job.seq = -1
        n++
      }
    }
    this.s.ready.delete(queue)
    return n
  }

  async listJobs(options: ListJobsOptions): Promise<ListedJob[]> {
    const now = Date.now()
    const offset = options.offset ?? 0
    const rows = [...this.s.jobs.values()].filter((j) => {
      if (j.queue !== options.queue) return false
      const due = j.state === 'ready' || (j.state === 'delayed' && j.availableAt <= now)
      if (options.state === 'waiting') return due
      if (options.state === 'delayed') return j.state === 'delayed' && !due
      return j.state === 'leased'
    })
    rows.sort((a, b) =>
      options.state === 'waiting' ? b.priority - a.priority || a.seq - b.seq : a.availableAt - b.availableAt,
    )
    return rows.slice(offset, offset + (options.limit ?? 100)).map((j) => ({
      id: j.id,
      queue: j.queue,
      body: j.body,
      priority: j.priority,
      availableAt: options.state === 'waiting' ? null : j.availableAt,
      deliveries: j.deliveries,
    }))
  }

  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const counts = new Map<string, { waiting: number; delayed: number; active: number; dead: number }>()
    const row = (q: string) => {
      let c = counts.get(q)
      if (!c) counts.set(q, (c = { waiting: 0, delayed: 0, active: 0, dead: 0 }))
      return c
    }
    for (const q of queues ?? []) row(q)
    const now = Date.now()
    for (const job of this.s.jobs.values()) {
      if (queues && !queues.includes(job.queue)) continue
      const c = row(job.queue)
      if (job.state === 'leased') c.active++
      else if (job.state === 'delayed' && job.availableAt > now) c.delayed++
      else c.waiting++
    }
    for (const d of this.s.dead.values()) {
      if (queues && !queues.includes(d.queue)) continue
      row(d.queue).dead++
    }
    return [...counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([queue, c]) => ({
        queue,
        ...c,
        throughput: this.s.throughput.rate(queue, now),
        paused: this.s.paused.has(queue),
      }))
  }
}

function clampPriority(p: number): number {
  return Math.max(0, Math.min(PRIORITIES - 1, Math.trunc(p || 0)))
}
