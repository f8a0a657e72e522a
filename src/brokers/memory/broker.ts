/**
 * The memory broker: one process, no persistence. For tests, scripts and `memory://` apps whose
 * producer and worker share a process. Keeps the same contract as every other broker.
 */
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
import { ThroughputCounter } from '../../core/throughput.js'
import { Fifo } from './fifo.js'
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

/** A ready-queue entry; stale once the job's seq or state has moved on. */
interface Entry {
  job: Job
  seq: number
}

export class MemoryBroker implements PullBroker {
  readonly scheme = 'memory'
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    leases: 'timed',
    blockingReserve: true,
    transactionalPublish: false,
    idempotentPublish: true,
  }
  private readonly jobs = new Map<string, Job>()
  /** Per queue, one FIFO per priority; entries go stale when a job leaves the ready state. */
  private readonly ready = new Map<string, Fifo<Entry>[]>()
  private readonly timed = new Set<Job>()
  private readonly dead = new Map<string, DeadJob>()
  private readonly waiters = new Waiters()
  private readonly paused = new Set<string>()
  private readonly throughput = new ThroughputCounter()
  private seq = 0
  private tokenSeq = 0

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.waiters.wakeAll()
  }

  private buckets(queue: string): Fifo<Entry>[] {
    let b = this.ready.get(queue)
    if (!b) {
      b = Array.from({ length: PRIORITIES }, () => new Fifo<Entry>())
      this.ready.set(queue, b)
    }
    return b
  }

  private makeReady(job: Job): void {
    job.state = 'ready'
    this.timed.delete(job)
    this.buckets(job.queue)[job.priority]!.push({ job, seq: job.seq })
  }

  private makeTimed(job: Job, state: 'delayed' | 'leased', at: number): void {
    job.state = state
    job.availableAt = at
    this.timed.add(job)
  }

  async publish(jobs: readonly OutgoingJob[]): Promise<void> {
    const now = Date.now()
    for (const j of jobs) {
      if (this.jobs.has(j.id)) continue
      const job: Job = {
        id: j.id,
        queue: j.queue,
        body: j.body,
        priority: clampPriority(j.priority),
        seq: ++this.seq,
        state: 'ready',
        availableAt: now,
        token: '',
        deliveries: 0,
      }
      this.jobs.set(job.id, job)
      if (j.availableAt !== undefined && j.availableAt > now) this.makeTimed(job, 'delayed', j.availableAt)
      else this.makeReady(job)
    }
    this.waiters.wakeAll()
  }

  private promoteDue(now: number): void {
    for (const job of this.timed) {
      if (job.availableAt <= now) {
        job.seq = ++this.seq
        this.makeReady(job)
      }
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
          if (this.paused.has(q)) continue
          const fifo = this.ready.get(q)?.[p]
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
        const fence = ++this.tokenSeq
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
    const deadline = Date.now() + (options.waitMs ?? 0)
    for (;;) {
      const got = this.take(queues, max, options.leaseMs)
      const left = deadline - Date.now()
      if (got.length || left <= 0 || options.signal?.aborted) return got
      await this.waiters.wait(Math.min(left, 50), options.signal)
    }
  }

  private live(ref: LeaseRef): Job | undefined {
    const job = this.jobs.get(ref.id)
    return job && job.state === 'leased' && job.token === ref.token ? job : undefined
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => {
      const job = this.live(r)
      if (!job) return false
      this.timed.delete(job)
      this.jobs.delete(job.id)
      this.throughput.add(job.queue, 1)
      return true
    })
  }

  async pause(queue: string): Promise<void> {
    this.paused.add(queue)
  }

  async resume(queue: string): Promise<void> {
    this.paused.delete(queue)
    this.waiters.wakeAll()
  }

  async extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]> {
    const at = Date.now() + leaseMs
    return refs.map((r) => {
      const job = this.live(r)
      if (job) job.availableAt = at
      return job !== undefined
    })
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    const out = refs.map((r) => {
      const job = this.live(r)
      if (!job) return false
      job.token = ''
      job.deliveries = Math.max(0, job.deliveries - 1)
      this.makeReady(job)
      return true
    })
    this.waiters.wakeAll()
    return out
  }

  async retry(items: readonly RetryItem[]): Promise<boolean[]> {
    const now = Date.now()
    const out = items.map((it) => {
      const job = this.live(it)
      if (!job) return false
      job.body = it.body
      job.token = ''
      job.seq = ++this.seq
      if (it.delayMs > 0) this.makeTimed(job, 'delayed', now + it.delayMs)
      else this.makeReady(job)
      return true
    })
    this.waiters.wakeAll()
    return out
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    const now = Date.now()
    return items.map((it) => {
      const job = this.live(it)
      if (!job) return false
      this.timed.delete(job)
      this.jobs.delete(job.id)
      this.throughput.add(job.queue, 1)
      this.dead.delete(job.id)
      this.dead.set(job.id, {
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
    const all = [...this.dead.values()].reverse().filter((d) => !options.queue || d.queue === options.queue)
    const offset = options.offset ?? 0
    return all.slice(offset, offset + (options.limit ?? 100))
  }

  async replayDead(ids?: readonly string[]): Promise<number> {
    const chosen = ids
      ? ids.map((id) => this.dead.get(id)).filter((d): d is DeadJob => d !== undefined)
      : [...this.dead.values()]
    let moved = 0
    for (const d of chosen) {
      // Published anew meanwhile: the live copy runs, this entry stays dead.
      if (this.jobs.has(d.id)) continue
      this.dead.delete(d.id)
      moved++
      const job: Job = {
        id: d.id,
        queue: d.queue,
        body: d.body,
        priority: d.priority,
        seq: ++this.seq,
        state: 'ready',
        availableAt: 0,
        token: '',
        deliveries: 0,
      }
      this.jobs.set(job.id, job)
      this.makeReady(job)
    }
    if (moved) this.waiters.wakeAll()
    return moved
  }

  async pruneDead(options: PruneDeadOptions): Promise<number> {
    let n = 0
    if (options.before !== undefined)
      for (const d of [...this.dead.values()]) if (d.failedAt < options.before && this.dead.delete(d.id)) n++
    if (options.keep !== undefined) {
      const seen = new Map<string, number>()
      // Newest first: the map keeps insertion order, oldest first.
      for (const d of [...this.dead.values()].reverse()) {
        const k = (seen.get(d.queue) ?? 0) + 1
        seen.set(d.queue, k)
        if (k > options.keep && this.dead.delete(d.id)) n++
      }
    }
    return n
  }

  async deleteDead(ids?: readonly string[]): Promise<number> {
    if (!ids) {
      const n = this.dead.size
      this.dead.clear()
      return n
    }
    return ids.filter((id) => this.dead.delete(id)).length
  }

  async purge(queue: string): Promise<number> {
    let n = 0
    for (const job of [...this.jobs.values()]) {
      if (job.queue === queue && job.state !== 'leased') {
        this.jobs.delete(job.id)
        this.timed.delete(job)
        job.state = 'delayed' // leaves stale bucket entries behind, skipped on take
        job.seq = -1
        n++
      }
    }
    this.ready.delete(queue)
    return n
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
    for (const job of this.jobs.values()) {
      if (queues && !queues.includes(job.queue)) continue
      const c = row(job.queue)
      if (job.state === 'leased') c.active++
      else if (job.state === 'delayed' && job.availableAt > now) c.delayed++
      else c.waiting++
    }
    for (const d of this.dead.values()) {
      if (queues && !queues.includes(d.queue)) continue
      row(d.queue).dead++
    }
    return [...counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([queue, c]) => ({
        queue,
        ...c,
        throughput: this.throughput.rate(queue, now),
        paused: this.paused.has(queue),
      }))
  }
}

function clampPriority(p: number): number {
  return Math.max(0, Math.min(PRIORITIES - 1, Math.trunc(p || 0)))
}
