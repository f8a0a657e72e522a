/**
 * The broker part of `celery+redis://`: celeriac's pull-broker contract on kombu's Redis layout
 * (layout.ts), with Celery's message protocol v2 as the body (protocol.ts). The worker sees
 * celeriac bodies; the keys hold what a Python Celery worker or producer reads and writes.
 *
 * Leases are kombu's: a delivery is filed in `unacked` with its time, extended by moving that
 * time, and redelivered by whoever (kombu or us) finds it older than the visibility timeout.
 * A message with a future ETA (Celery's countdown/eta, or a retry) is filed the same way with a
 * time chosen so that it comes back when due: delays live in Redis, not in worker memory.
 */
import { randomUUID } from 'node:crypto'
import type {
  Broker,
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
  DeferItem,
} from '../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../contracts/consumer.js'
import { pullConsume } from '../contracts/pull-consumer.js'
import { BrokerError, MalformedMessageError } from '../core/errors.js'
import { decodeMessage, encodeMessage } from '../core/message.js'
import { runScripts, type RedisClient } from '../brokers/redis/connection.js'
import type { RedisConnection } from '../brokers/redis/shared.js'
import { DEAD, PRIORITY_STEPS, SEP, UNACKED, UNACKED_INDEX, bindingKey, listKey } from './layout.js'
import { defaultBinding, fromKombu, peekKombu, toKombu } from './protocol.js'
// One atomic operation each (scripts/*.lua), keeping kombu's invariant: a message is in a queue
// list, or in `unacked` with its time in `unacked_index`, or in our dead hash; never two, never none.
import * as lua from './scripts.generated.js'

const POLL_MS = 50
const RESTORE_EVERY_MS = 1000

interface DeadRecord {
  id: string
  queue: string
  reason: string
  failedAt: number
  /** The raw payload (taken straight from a list) … */
  payload?: string
  /** … or the unacked entry `[payload, exchange, routing key]`. */
  entry?: string
}

export class CeleryRedisBroker implements Broker {
  readonly scheme = 'celery+redis'
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    crossQueueOrder: 'listed',
    leases: 'timed',
    blockingReserve: false,
    transactionalPublish: false,
    idempotentPublish: false,
  }
  private lastRestore = 0
  /** Queue of each delivery this process holds, for dead-letter records. */
  private readonly queueOf = new Map<string, string>()

  constructor(
    private readonly conn: RedisConnection,
    /** Seconds (kombu's visibility_timeout). */
    private readonly visibilityTimeout: number,
  ) {}

  connect(): Promise<void> {
    return this.conn.connect()
  }

  async close(): Promise<void> {}

  private get redis(): RedisClient {
    return this.conn.redis('the celery+redis broker')
  }

  async publish(jobs: readonly OutgoingJob[]): Promise<void> {
    if (!jobs.length) return
    const out = jobs.map((j) => toKombu(j.body))
    const multi = this.redis.multi()
    for (const o of out) {
      const b = defaultBinding(o.queue)
      multi.sadd(bindingKey(b.exchange), b.member)
      multi.lpush(listKey(o.queue, o.priority), o.payload)
    }
    await exec(multi)
  }

  consume(options: ConsumeOptions): Consumption {
    return pullConsume(this, options)
  }

  async reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    const deadline = Date.now() + (options.waitMs ?? 0)
    for (;;) {
      if (Date.now() - this.lastRestore >= RESTORE_EVERY_MS) await this.restoreDue()
      const got = await this.take(queues, max)
      if (got.taken || Date.now() >= deadline || options.signal?.aborted) return got.deliveries
      await sleep(Math.min(POLL_MS, deadline - Date.now()), options.signal)
    }
  }

  /** One take: deliveries ready now; dead-letters unreadable ones and files future ones. */
  private async take(
    queues: readonly string[],
    max: number,
  ): Promise<{ taken: number; deliveries: Delivery[] }> {
    const lists: string[] = []
    const names: string[] = []
    for (const step of PRIORITY_STEPS)
      for (const q of queues) {
        lists.push(listKey(q, step))
        names.push(q)
      }
    const tags = Array.from({ length: max }, () => randomUUID())
    const [reply] = (await runScripts(this.redis, [
      {
        script: lua.take,
        keys: [UNACKED, UNACKED_INDEX, DEAD, ...lists],
        args: [String(Date.now() / 1000), max, ...names, ...tags],
      },
    ])) as [(string | number)[]]
    const deliveries: Delivery[] = []
    const fence = Date.now() * 1000
    let taken = 0
    for (let i = 0; i < reply.length; i += 3) {
      taken++
      const n = Number(reply[i])
      const tag = String(reply[i + 1])
      const payload = String(reply[i + 2])
      if (n < 0) continue
      const queue = names[n - 1]!
      let m
      try {
        m = fromKombu(payload, queue)
      } catch (err) {
        if (!(err instanceof MalformedMessageError)) throw err
        const id = peekKombu(payload).id ?? tag
        this.queueOf.set(tag, queue)
        await this.deadLetter([{ id, token: tag, reason: `malformed Celery message: ${err.message}` }])
        continue
      }
      if (m.etaMs !== null && m.etaMs > Date.now()) {
        await this.file([tag], m.etaMs)
        continue
      }
      this.queueOf.set(tag, queue)
      deliveries.push({
        id: m.id,
        token: tag,
        fence: fence + deliveries.length,
        queue,
        body: m.body,
        message: m.message,
        priority: m.priority,
        deliveries: m.redelivered ? 2 : 1,
        // A workflow step may have been sent twice (no idempotent publish here): claim it first.
        ...(m.once ? { chosenId: true } : {}),
      })
    }
    return { taken, deliveries }
  }

  /** Sets filed messages' time so that they come back at `dueMs`. */
  private async file(tags: readonly string[], dueMs: number): Promise<boolean[]> {
    const [r] = (await runScripts(this.redis, [
      {
        script: lua.touch,
        keys: [UNACKED, UNACKED_INDEX],
        args: [String(dueMs / 1000 - this.visibilityTimeout), ...tags],
      },
    ])) as [number[]]
    return r.map((x) => x === 1)
  }

  /** Puts back on their lists the filed messages older than the visibility timeout, as kombu does. */
  private async restoreDue(): Promise<void> {
    this.lastRestore = Date.now()
    const ceil = Date.now() / 1000 - this.visibilityTimeout
    const tags = await this.redis.zrangebyscore(UNACKED_INDEX, '-inf', String(ceil), 'LIMIT', 0, 100)
    if (tags.length) await this.putBack(tags)
  }

  private async putBack(tags: readonly string[]): Promise<boolean[]> {
    const entries = await this.redis.hmget(UNACKED, ...tags)
    const calls = tags.map((tag, i) => {
      const back = restorable(entries[i] ?? null)
      if (!back)
        return {
          script: lua.bury,
          keys: [UNACKED, UNACKED_INDEX, DEAD],
          args: [tag, tag, 'the unacked entry is not readable JSON', Date.now(), ''],
        }
      return { script: lua.restore, keys: [UNACKED, UNACKED_INDEX, back.list], args: [tag, back.payload] }
    })
    const r = (await runScripts(this.redis, calls)) as number[]
    return r.map((x) => x === 1)
  }

  async extend(refs: readonly LeaseRef[]): Promise<boolean[]> {
    if (!refs.length) return []
    return this.file(
      refs.map((r) => r.token),
      Date.now() + this.visibilityTimeout * 1000,
    )
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    if (!refs.length) return []
    refs.forEach((r) => this.queueOf.delete(r.token))
    return this.putBack(refs.map((r) => r.token))
  }

  /**
   * Puts jobs back for later, as they are: filed in `unacked` with a time that brings them back
   * when due. Kombu marks a restored message redelivered, so on this layout a deferred job counts
   * as delivered twice at most, never more however often it is deferred.
   */
  async defer(items: readonly DeferItem[]): Promise<boolean[]> {
    if (!items.length) return []
    const now = Date.now()
    const byDue = new Map<number, string[]>()
    for (const it of items) {
      const due = now + Math.max(0, Math.ceil(it.delayMs))
      byDue.set(due, [...(byDue.get(due) ?? []), it.token])
    }
    const filed = new Map<string, boolean>()
    for (const [due, tokens] of byDue) {
      const r = await this.file(tokens, due)
      tokens.forEach((t, i) => filed.set(t, r[i] ?? false))
    }
    return items.map((it) => filed.get(it.token) ?? false)
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    if (!refs.length) return []
    refs.forEach((r) => this.queueOf.delete(r.token))
    const [r] = (await runScripts(this.redis, [
      { script: lua.ack, keys: [UNACKED, UNACKED_INDEX], args: refs.map((x) => x.token) },
    ])) as [number[]]
    return r.map((x) => x === 1)
  }

  async retry(items: readonly RetryItem[]): Promise<boolean[]> {
    if (!items.length) return []
    const calls = items.map((it) => {
      const queue = this.queueOf.get(it.token) ?? 'celery'
      this.queueOf.delete(it.token)
      const due = Date.now() + it.delayMs
      const msg = decodeMessage(it.body)
      msg.eta = it.delayMs > 0 ? new Date(due).toISOString() : null
      const out = toKombu(encodeMessage(msg, Number.MAX_SAFE_INTEGER))
      const entry = `[${out.payload},${JSON.stringify(queue)},${JSON.stringify(queue)}]`
      return {
        script: lua.refile,
        keys: [UNACKED, UNACKED_INDEX],
        args: [it.token, randomUUID(), entry, String(due / 1000 - this.visibilityTimeout)],
      }
    })
    return ((await runScripts(this.redis, calls)) as number[]).map((x) => x === 1)
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    if (!items.length) return []
    const calls = items.map((it) => {
      const queue = this.queueOf.get(it.token) ?? ''
      this.queueOf.delete(it.token)
      return {
        script: lua.bury,
        keys: [UNACKED, UNACKED_INDEX, DEAD],
        args: [it.token, it.id, it.reason, Date.now(), queue],
      }
    })
    return ((await runScripts(this.redis, calls)) as number[]).map((x) => x === 1)
  }

  async pause(queue: string): Promise<void> {
    throw new BrokerError(
      `pausing "${queue}" is not supported on celery+redis:// (kombu has no paused queues)`,
    )
  }

  async resume(queue: string): Promise<void> {
    throw new BrokerError(
      `resuming "${queue}" is not supported on celery+redis:// (kombu has no paused queues)`,
    )
  }

  async purge(queue: string): Promise<number> {
    const multi = this.redis.multi()
    for (const s of PRIORITY_STEPS) multi.llen(listKey(queue, s))
    for (const s of PRIORITY_STEPS) multi.del(listKey(queue, s))
    const r = await exec(multi)
    return r.slice(0, PRIORITY_STEPS.length).reduce<number>((a, b) => a + Number(b), 0)
  }

  /**
   * Per queue: waiting (its lists), active and delayed (its messages filed in `unacked`, by any
   * worker, kombu's or ours: delayed when the message's eta is still ahead) and dead. All queues
   * means those with a kombu binding, a filed message or a dead letter.
   */
  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const [dead, filed] = await Promise.all([this.deadRecords(), this.redis.hvals(UNACKED)])
    const now = Date.now()
    const active = new Map<string, number>()
    const delayed = new Map<string, number>()
    for (const entry of filed) {
      const f = filedOf(entry)
      if (!f) continue
      const into = f.etaMs !== null && f.etaMs > now ? delayed : active
      into.set(f.queue, (into.get(f.queue) ?? 0) + 1)
    }
    const names = queues ?? [
      ...new Set([
        ...(await this.boundQueues()),
        ...active.keys(),
        ...delayed.keys(),
        ...dead.map((d) => d.queue).filter(Boolean),
      ]),
    ]
    const multi = this.redis.multi()
    for (const q of names) for (const s of PRIORITY_STEPS) multi.llen(listKey(q, s))
    const r = await exec(multi)
    const n = PRIORITY_STEPS.length
    return names.map((queue, i) => ({
      queue,
      waiting: r.slice(i * n, i * n + n).reduce<number>((a, b) => a + Number(b), 0),
      delayed: delayed.get(queue) ?? 0,
      active: active.get(queue) ?? 0,
      dead: dead.filter((d) => d.queue === queue).length,
      throughput: 0,
      paused: false,
    }))
  }

  /** Queues named in kombu's bindings (`_kombu.binding.*`: routing key, pattern, queue). */
  private async boundQueues(): Promise<string[]> {
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', bindingKey('*'), 'COUNT', 1000)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0' && keys.length < 10_000)
    if (!keys.length) return []
    const multi = this.redis.multi()
    for (const k of keys) multi.smembers(k)
    const members = (await exec(multi)).flat() as string[]
    return [...new Set(members.map((m) => m.split(SEP)[2] ?? '').filter(Boolean))]
  }

  private async deadRecords(): Promise<DeadRecord[]> {
    const all = await this.redis.hvals(DEAD)
    return all.map((v) => JSON.parse(v) as DeadRecord)
  }

  async listDead(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const recs = (await this.deadRecords())
      .filter((d) => options.queue === undefined || d.queue === options.queue)
      .sort((a, b) => b.failedAt - a.failedAt)
    const off = options.offset ?? 0
    return recs.slice(off, off + (options.limit ?? recs.length)).map((d) => ({
      id: d.id,
      queue: d.queue,
      body: payloadOf(d),
      priority: 0,
      reason: d.reason,
      failedAt: d.failedAt,
      deliveries: 1,
    }))
  }

  async replayDead(ids?: readonly string[]): Promise<number> {
    const recs = (await this.deadRecords()).filter((d) => !ids || ids.includes(d.id))
    if (!recs.length) return 0
    const calls = recs.map((d) => ({
      script: lua.revive,
      keys: [DEAD, listKey(d.queue || 'celery', 0)],
      args: [d.id, payloadOf(d)],
    }))
    return ((await runScripts(this.redis, calls)) as number[]).reduce((a, b) => a + b, 0)
  }

  async deleteDead(ids?: readonly string[]): Promise<number> {
    if (!ids) {
      const n = await this.redis.hlen(DEAD)
      await this.redis.del(DEAD)
      return n
    }
    return ids.length ? this.redis.hdel(DEAD, ...ids) : 0
  }

  async pruneDead(options: PruneDeadOptions): Promise<number> {
    const recs = (await this.deadRecords()).sort((a, b) => b.failedAt - a.failedAt)
    const seen = new Map<string, number>()
    const drop = recs.filter((d) => {
      const n = (seen.get(d.queue) ?? 0) + 1
      seen.set(d.queue, n)
      return (
        (options.before !== undefined && d.failedAt < options.before) ||
        (options.keep !== undefined && n > options.keep)
      )
    })
    return drop.length ? this.redis.hdel(DEAD, ...drop.map((d) => d.id)) : 0
  }
}

/** The queue (routing key) and eta of an unacked entry `[payload, exchange, routing key]`. */
function filedOf(entry: string): { queue: string; etaMs: number | null } | null {
  try {
    const [payload, , rk] = JSON.parse(entry) as [{ headers?: { eta?: unknown } }, string, string]
    const eta = payload.headers?.eta
    return { queue: String(rk), etaMs: typeof eta === 'string' ? Date.parse(eta) : null }
  } catch {
    return null
  }
}

/** The kombu payload of a dead record. */
function payloadOf(d: DeadRecord): string {
  if (d.payload !== undefined) return d.payload
  return restorable(d.entry ?? null)?.payload ?? ''
}

/**
 * The list and payload that an unacked entry goes back to, marked redelivered as kombu marks it.
 * The queue is the entry's routing key (Celery's default binding: queue, exchange and key share
 * one name).
 */
function restorable(entry: string | null): { list: string; payload: string } | null {
  if (entry === null) return null
  try {
    const [payload, , rk] = JSON.parse(entry) as [Record<string, Record<string, unknown>>, string, string]
    if (payload.headers) payload.headers.redelivered = true
    const info = payload.properties?.delivery_info as Record<string, unknown> | undefined
    if (info) info.redelivered = true
    return { list: rk, payload: JSON.stringify(payload) }
  } catch {
    return null
  }
}

async function exec(multi: ReturnType<RedisClient['multi']>): Promise<unknown[]> {
  const replies = await multi.exec()
  if (!replies) throw new BrokerError('a Redis transaction was aborted')
  return replies.map(([err, v]) => {
    if (err) throw err
    return v
  })
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, Math.max(0, ms))
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
