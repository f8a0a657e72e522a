/**
 * The Redis broker (`redis://`, `rediss://`). Every state change of a queue is one Lua script run
 * by SHA (scripts/*.lua); a batch costs one round trip: one script call per queue, several queues
 * pipelined. The key layout and its reasons are in README.md.
 */
import { setMaxListeners } from 'node:events'
import { oldestBucket, ratePerSecond } from '../../core/throughput.js'
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
  PullBroker,
  QueueStats,
  ReserveOptions,
  RetryItem,
  DeferItem,
} from '../../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../../contracts/consumer.js'
import { pullConsume } from '../../contracts/pull-consumer.js'
import { BrokerError } from '../../core/errors.js'
import {
  brokerError,
  runScripts,
  runScriptsAtomically,
  type RedisClient,
  type ScriptCall,
} from './connection.js'
import { QueueKeys, queuesKey, type RedisTarget } from './keys.js'
import { connectionOf, type RedisConnection } from './shared.js'
import * as S from './scripts.generated.js'
import type { LuaScript } from './scripts.generated.js'
import { leaseOf, parseDead, parseReserve, PRIORITIES, publishArgs, type ReserveReply } from './wire.js'

export interface RedisBrokerOptions {
  /** Most delayed jobs and expired leases one reserve moves to ready (the rest on the next). */
  readonly promoteLimit?: number
}

/** A job due this soon is waited for with a timer alone: a BLPOP would cost more than it saves. */
const SPIN_MS = 10

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => (clearTimeout(t), signal.removeEventListener('abort', done), resolve())
    const t = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Dead jobs moved per script call by replayDead() without ids. */
const REPLAY_CHUNK = 1000

function unlimited(c: AbortController): AbortController {
  setMaxListeners(0, c.signal)
  return c
}

export class RedisBroker implements PullBroker, JobLister {
  readonly scheme: string
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    crossQueueOrder: 'listed',
    leases: 'timed',
    blockingReserve: true,
    transactionalPublish: false,
    idempotentPublish: true,
    listJobs: true,
  }
  readonly prefix: string
  private readonly target: RedisTarget
  private readonly conn: RedisConnection
  /** Whether close() also closes the connection (made from a URL) or leaves it to its maker. */
  private readonly ownsConnection: boolean
  private readonly promoteLimit: number
  private isOpen = false
  /** Aborted by close(): ends this broker's blocking waits even when the connection is shared. */
  // Every wait of this client listens on it: as many listeners as waits, not a leak.
  private closing = unlimited(new AbortController())
  private offReconnect: (() => void) | null = null
  private readonly queueKeys = new Map<string, QueueKeys>()
  /** Queues this client has added to the registry since it (re)connected. */
  private readonly registered = new Set<string>()

  /**
   * `new RedisBroker(url)` opens connections of its own; the backend of index.ts passes the
   * connection its parts share.
   */
  constructor(url: string | RedisConnection, options: RedisBrokerOptions = {}) {
    const { conn, owned } = connectionOf(url, 'broker')
    this.conn = conn
    this.ownsConnection = owned
    this.target = conn.target
    this.scheme = conn.scheme
    this.prefix = conn.prefix
    this.promoteLimit = options.promoteLimit ?? 1000
  }

  async connect(): Promise<void> {
    await this.conn.connect()
    if (this.isOpen) return
    this.isOpen = true
    this.closing = unlimited(new AbortController())
    this.offReconnect = this.conn.onReconnect(() => this.registered.clear())
  }

  async close(): Promise<void> {
    this.isOpen = false
    this.closing.abort()
    this.offReconnect?.()
    this.offReconnect = null
    this.registered.clear()
    if (this.ownsConnection) await this.conn.close()
  }

  private redis(): RedisClient {
    if (!this.isOpen)
      throw new BrokerError(`redis broker at ${this.target.safeUrl} is not connected: call connect() first`)
    return this.conn.redis('redis broker')
  }

  private keys(queue: string): QueueKeys {
    let k = this.queueKeys.get(queue)
    if (!k) this.queueKeys.set(queue, (k = new QueueKeys(this.prefix, queue)))
    return k
  }

  private async run(what: string, calls: readonly ScriptCall[]): Promise<unknown[]> {
    if (!calls.length) return []
    try {
      return await runScripts(this.redis(), calls)
    } catch (e) {
      throw brokerError(this.target, what, e)
    }
  }

  async publish(jobs: readonly OutgoingJob[]): Promise<void> {
    if (!jobs.length) return
    const byQueue = groupBy(jobs, (j) => j.queue)
    const now = Date.now()
    const calls = [...byQueue].map(([queue, js]) => ({
      script: S.publish,
      keys: this.keys(queue).publish,
      args: publishArgs(js, now),
    }))
    const fresh = [...byQueue.keys()].filter((q) => !this.registered.has(q))
    try {
      const client = this.redis()
      await Promise.all([
        fresh.length ? client.sadd(queuesKey(this.prefix), ...fresh) : null,
        calls.length === 1 ? runScripts(client, calls) : runScriptsAtomically(client, calls),
      ])
    } catch (e) {
      throw brokerError(this.target, `publish of ${jobs.length} job(s)`, e)
    }
    for (const q of fresh) this.registered.add(q)
  }

  consume(options: ConsumeOptions): Consumption {
    return pullConsume(this, options)
  }

  async reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    if (max <= 0 || !queues.length) return []
    const deadline = Date.now() + (options.waitMs ?? 0)
    const wakeKeys = queues.map((q) => this.keys(q).wake)
    for (;;) {
      const { deliveries, now, nextDue } = await this.take(queues, Math.floor(max), options.leaseMs)
      if (deliveries.length || options.signal?.aborted) return deliveries
      const left = deadline - Date.now()
      if (left <= 0) return deliveries
      // Sleep until woken (a publish, a retry, a delayed job due before the others), or until
      // the next delayed job or lease expiry is due (server times: `now` came with `nextDue`).
      const dueIn = nextDue > 0 ? Math.max(1, nextDue - now + 1) : Infinity
      const blocker = this.conn.blocker
      if (!blocker || this.closing.signal.aborted) return [] // closed meanwhile
      const stops = [this.closing.signal, ...(options.signal ? [options.signal] : [])]
      try {
        if (dueIn <= SPIN_MS) await sleep(dueIn, AbortSignal.any(stops))
        else if (dueIn < left) {
          // BLPOP's own timeout fires on the server's clock tick (every 100 ms at the default
          // hz 10): a due job would start up to 100 ms late. A local timer ends the wait instead.
          await blocker.wait(wakeKeys, dueIn, AbortSignal.any([...stops, AbortSignal.timeout(dueIn)]))
        } else await blocker.wait(wakeKeys, left, AbortSignal.any(stops))
      } catch (e) {
        throw brokerError(this.target, 'waiting for jobs', e)
      }
      if (this.closing.signal.aborted) return [] // closed while waiting
    }
  }

  /** One reserve script for one queue; for several, peek at all, share max out by priority, then reserve. */
  private async take(queues: readonly string[], max: number, leaseMs: number): Promise<ReserveReply> {
    const reserveCall = (q: string, n: number) => ({
      script: S.reserve,
      keys: this.keys(q).reserve,
      args: [n, leaseMs, this.promoteLimit],
    })
    if (queues.length === 1)
      return parseReserve((await this.run('reserve', [reserveCall(queues[0]!, max)]))[0], queues[0]!)
    const peeks = (await this.run(
      'reserve',
      queues.map((q) => ({ script: S.peek, keys: this.keys(q).reserve, args: [this.promoteLimit] })),
    )) as number[][]
    const share = new Array<number>(queues.length).fill(0)
    let left = max
    for (let p = PRIORITIES - 1; p >= 0 && left > 0; p--) {
      for (let i = 0; i < queues.length && left > 0; i++) {
        const n = Math.min(Number(peeks[i]![p + 2]), left)
        share[i]! += n
        left -= n
      }
    }
    const now = Number(peeks[0]![0])
    if (left === max) {
      const due = peeks.map((r) => Number(r[1])).filter((t) => t > 0)
      return { deliveries: [], now, nextDue: due.length ? Math.min(...due) : -1 }
    }
    const chosen = queues.map((q, i) => ({ q, n: share[i]! })).filter((x) => x.n > 0)
    const replies = await this.run(
      'reserve',
      chosen.map((x) => reserveCall(x.q, x.n)),
    )
    const deliveries = replies.flatMap((r, i) => parseReserve(r, chosen[i]!.q).deliveries)
    // Stable: queue order breaks ties within a priority.
    deliveries.sort((a, b) => b.priority - a.priority)
    return { deliveries, now, nextDue: 0 }
  }

  /** Runs `script` once per queue that the refs' tokens name; refs with malformed tokens are stale. */
  private async perQueue<T extends LeaseRef>(
    what: string,
    refs: readonly T[],
    script: LuaScript,
    keys: (k: QueueKeys) => readonly string[],
    args: (member: string, item: T) => (string | number)[],
    head: (string | number)[] = [],
  ): Promise<boolean[]> {
    const out = new Array<boolean>(refs.length).fill(false)
    const groups = new Map<string, { index: number[]; args: (string | number)[] }>()
    refs.forEach((r, i) => {
      const lease = leaseOf(r.id, r.token)
      if (!lease) return
      let g = groups.get(lease.queue)
      if (!g) groups.set(lease.queue, (g = { index: [], args: [...head] }))
      g.index.push(i)
      for (const a of args(lease.member, r)) g.args.push(a)
    })
    const list = [...groups]
    const replies = await this.run(
      what,
      list.map(([q, g]) => ({ script, keys: keys(this.keys(q)), args: g.args })),
    )
    replies.forEach((reply, gi) => {
      const index = list[gi]![1].index
      // ack-4.lua answers with a string of '1' and '0'; the other scripts with an array of 1 and 0.
      if (typeof reply === 'string')
        for (let j = 0; j < index.length; j++) out[index[j]!] = reply.charCodeAt(j) === 49
      else {
        const flags = reply as number[]
        for (let j = 0; j < index.length; j++) out[index[j]!] = flags[j] === 1
      }
    })
    return out
  }

  ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return this.perQueue(
      'ack',
      refs,
      S.ack,
      (k) => k.ack,
      (m) => [m],
    )
  }

  extend(refs: readonly LeaseRef[], leaseMs: number): Promise<boolean[]> {
    return this.perQueue(
      'extend',
      refs,
      S.extend,
      (k) => [k.leases],
      (m) => [m],
      [leaseMs],
    )
  }

  release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return this.perQueue(
      'release',
      refs,
      S.release,
      (k) => k.release,
      (m) => [m],
    )
  }

  retry(items: readonly RetryItem[]): Promise<boolean[]> {
    return this.perQueue(
      'retry',
      items,
      S.retry,
      (k) => k.retry,
      (m, it) => [m, Math.max(0, Math.ceil(it.delayMs)), it.body],
    )
  }

  defer(items: readonly DeferItem[]): Promise<boolean[]> {
    return this.perQueue(
      'defer',
      items,
      S.defer,
      (k) => k.retry,
      (m, it) => [m, Math.max(0, Math.ceil(it.delayMs))],
    )
  }

  deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    return this.perQueue(
      'dead-letter',
      items,
      S.deadLetter,
      (k) => k.deadLetter,
      (m, it) => [m, it.reason],
    )
  }

  /** Queue names published to under this prefix, sorted. */
  async knownQueues(): Promise<string[]> {
    try {
      return (await this.redis().smembers(queuesKey(this.prefix))).sort()
    } catch (e) {
      throw brokerError(this.target, 'listing queues', e)
    }
  }

  async listJobs(options: ListJobsOptions): Promise<ListedJob[]> {
    const offset = Math.max(0, options.offset ?? 0)
    const limit = Math.max(0, options.limit ?? 100)
    if (!limit) return []
    const [reply] = await this.run('listing jobs', [
      {
        script: S.listJobs,
        keys: this.keys(options.queue).listJobs,
        args: [options.state, offset, limit],
      },
    ])
    const r = reply as (string | number)[]
    const out: ListedJob[] = []
    for (let i = 0; i + 4 < r.length; i += 5)
      out.push({
        id: String(r[i]),
        queue: options.queue,
        priority: Number(r[i + 1]),
        deliveries: Number(r[i + 2]),
        availableAt: r[i + 3] === '' ? null : Number(r[i + 3]),
        body: String(r[i + 4]),
      })
    return out
  }

  async listDead(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const offset = Math.max(0, options.offset ?? 0)
    const limit = Math.max(0, options.limit ?? 100)
    if (!limit) return []
    if (options.queue !== undefined) {
      const [reply] = await this.run('listing dead jobs', [
        { script: S.listDead, keys: this.keys(options.queue).deadStore, args: [offset, limit] },
      ])
      return parseDead(reply, options.queue)
    }
    // Each queue's newest offset+limit, merged: newest first across queues.
    const queues = await this.knownQueues()
    const replies = await this.run(
      'listing dead jobs',
      queues.map((q) => ({ script: S.listDead, keys: this.keys(q).deadStore, args: [0, offset + limit] })),
    )
    const all = replies.flatMap((r, i) => parseDead(r, queues[i]!))
    all.sort((a, b) => b.failedAt - a.failedAt)
    return all.slice(offset, offset + limit)
  }

  async replayDead(ids?: readonly string[]): Promise<number> {
    const queues = await this.knownQueues()
    if (ids) {
      if (!ids.length) return 0
      const replies = await this.run(
        'replaying dead jobs',
        queues.map((q) => ({ script: S.replayDead, keys: this.keys(q).replay, args: ['ids', ...ids] })),
      )
      return sum(replies.map((r) => (r as number[])[0]))
    }
    // Chunks of the oldest entries per queue; entries left dead (their id is live) stay at the
    // front of the index, so each queue's next chunk starts past those.
    let total = 0
    let pending = queues.map((q) => ({ q, skip: 0 }))
    while (pending.length) {
      const replies = (await this.run(
        'replaying dead jobs',
        pending.map(({ q, skip }) => ({
          script: S.replayDead,
          keys: this.keys(q).replay,
          args: ['oldest', REPLAY_CHUNK, skip],
        })),
      )) as number[][]
      replies.forEach(([moved, , live], i) => ((total += moved!), (pending[i]!.skip += live!)))
      pending = pending.filter((_, i) => replies[i]![1] === REPLAY_CHUNK)
    }
    return total
  }

  async deleteDead(ids?: readonly string[]): Promise<number> {
    if (ids && !ids.length) return 0
    const queues = await this.knownQueues()
    const args = ids ? ['ids', ...ids] : ['all']
    return sum(
      await this.run(
        'deleting dead jobs',
        queues.map((q) => ({ script: S.deleteDead, keys: this.keys(q).deadStore, args })),
      ),
    )
  }

  async pruneDead(options: PruneDeadOptions): Promise<number> {
    const { before, keep } = options
    if (before === undefined && keep === undefined) return 0
    if ((before !== undefined && !Number.isFinite(before)) || (keep !== undefined && !(keep >= 0)))
      throw new RangeError(`pruneDead: before must be an epoch ms and keep a count >= 0`)
    const args = [before === undefined ? '' : Math.floor(before), keep === undefined ? '' : Math.floor(keep)]
    const queues = await this.knownQueues()
    return sum(
      await this.run(
        'pruning dead jobs',
        queues.map((q) => ({ script: S.pruneDead, keys: this.keys(q).deadStore, args })),
      ),
    )
  }

  async purge(queue: string): Promise<number> {
    return sum(await this.run('purge', [{ script: S.purge, keys: this.keys(queue).purge, args: [] }]))
  }

  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const names = [...new Set(queues ?? (await this.knownQueues()))].sort()
    const replies = await this.run(
      'stats',
      names.map((q) => ({ script: S.stats, keys: this.keys(q).stats, args: [] })),
    )
    return replies.map((r, i) => {
      const [waiting, delayed, active, dead, paused, now, ...buckets] = (r as number[]).map(Number)
      const first = oldestBucket(now!)
      return {
        queue: names[i]!,
        waiting: waiting!,
        delayed: delayed!,
        active: active!,
        dead: dead!,
        throughput: ratePerSecond((b) => buckets[b - first] ?? 0, now!),
        paused: paused === 1,
      }
    })
  }

  /** Stops deliveries from a queue (publish still works) until resume(). */
  async pause(queue: string): Promise<void> {
    try {
      await this.redis().set(this.keys(queue).paused, '1')
    } catch (e) {
      throw brokerError(this.target, 'pause', e)
    }
  }

  /** Lets a paused queue deliver again and wakes a waiting consumer. */
  async resume(queue: string): Promise<void> {
    const k = this.keys(queue)
    await this.run('resume', [{ script: S.resume, keys: [k.paused, k.wake], args: [] }])
  }

  async isPaused(queue: string): Promise<boolean> {
    try {
      return (await this.redis().exists(this.keys(queue).paused)) === 1
    } catch (e) {
      throw brokerError(this.target, 'reading pause state', e)
    }
  }
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>()
  for (const it of items) {
    const k = key(it)
    const list = m.get(k)
    if (list) list.push(it)
    else m.set(k, [it])
  }
  return m
}

function sum(replies: readonly unknown[]): number {
  return replies.reduce<number>((n, r) => n + Number(r), 0)
}
