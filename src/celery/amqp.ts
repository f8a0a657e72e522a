/**
 * `celery+amqp://user:pass@host:5672/vhost?results=redis://host:6379/db`: Celery's message
 * protocol v2 on RabbitMQ as Celery 5.2 lays it out (kombu's pyamqp transport): for each queue
 * `q`, a durable direct exchange `q` and a durable queue `q` bound to it by the key `q` (Celery's
 * default queue is `celery` on the `celery` exchange), persistent messages whose body is the JSON
 * `[args, kwargs, embed]` and whose AMQP headers are the protocol headers. Results live where
 * Celery keeps them in Redis: `results=` names the server (celery-task-meta-<id>, the same
 * format as celery+redis://); without it, give the app a `resultBackend: 'celery+redis://…'`.
 *
 * A pull broker on `basic.get`: a delivery stays unacknowledged on this process's channel until
 * the task ran (acks late); if the process dies RabbitMQ delivers it again. A message due later
 * (Celery's eta/countdown, a retry, a deferral) is held unacknowledged in memory until due, as
 * Celery's own worker holds ETA messages. Dead letters go to the durable queue
 * `celeriac.celery.dead` (ours; kombu never reads it).
 */
import type { Channel, GetMessage } from 'amqplib'
import type {
  Broker,
  BrokerCapabilities,
  DeadJob,
  DeadLetterItem,
  DeferItem,
  Delivery,
  LeaseRef,
  ListDeadOptions,
  OutgoingJob,
  PruneDeadOptions,
  QueueStats,
  ReserveOptions,
  RetryItem,
} from '../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../contracts/consumer.js'
import { pullConsume } from '../contracts/pull-consumer.js'
import { BrokerError, ConfigError, MalformedMessageError } from '../core/errors.js'
import { decodeMessage, encodeMessage } from '../core/message.js'
import type { AmqpConnection } from '../brokers/amqp/connection.js'
import { fromKombu, peekKombu, toKombu } from './protocol.js'

export const AMQP_DEAD = 'celeriac.celery.dead'
const POLL_MS = 50

interface Held {
  readonly msg: GetMessage
  readonly queue: string
  readonly channel: Channel
}

/** kombu's envelope for a message read from RabbitMQ, for the shared codec (protocol.ts). */
function envelopeOf(msg: GetMessage): string {
  const p = msg.properties
  return JSON.stringify({
    body: msg.content.toString('utf8'),
    'content-type': p.contentType ?? null,
    'content-encoding': p.contentEncoding ?? null,
    headers: p.headers ?? {},
    properties: { priority: p.priority ?? 0, delivery_info: { redelivered: msg.fields.redelivered } },
  })
}

/** The AMQP form of a celeriac body: content and properties as Celery's producer writes them. */
function amqpOf(celeriacBody: string): {
  queue: string
  content: Buffer
  options: Record<string, unknown>
} {
  const out = toKombu(celeriacBody)
  const env = JSON.parse(out.payload) as {
    body: string
    headers: Record<string, unknown>
    properties: { correlation_id: string; priority: number }
  }
  return {
    queue: out.queue,
    content: Buffer.from(env.body, 'base64'),
    options: {
      persistent: true,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: env.properties.correlation_id,
      priority: env.properties.priority,
      headers: env.headers,
    },
  }
}

export class CeleryAmqpBroker implements Broker {
  readonly scheme = 'celery+amqp'
  readonly capabilities: BrokerCapabilities = {
    consumer: 'pull',
    crossQueueOrder: 'none',
    leases: 'connection',
    blockingReserve: false,
    transactionalPublish: false,
    idempotentPublish: false,
  }
  private readonly declared = new Set<string>()
  private generation = -1
  private channel: Channel | null = null
  private readonly held = new Map<string, Held>()
  /** Held messages not yet due (eta, retry, defer): token → due time (ms). */
  private readonly waiting = new Map<string, number>()
  private seq = 0

  constructor(private readonly conn: AmqpConnection) {}

  connect(): Promise<void> {
    return this.conn.connect()
  }

  async close(): Promise<void> {
    await this.channel?.close().catch(() => {})
    this.channel = null
  }

  /** Declares Celery's layout for `queues` (exchange q, queue q, key q), once per connection. */
  private async declare(queues: readonly string[]): Promise<void> {
    if (this.generation !== this.conn.generation) {
      this.generation = this.conn.generation
      this.declared.clear()
    }
    const todo = [...new Set(queues)].filter((q) => !this.declared.has(q))
    if (!todo.length) return
    const ch = await this.conn.channel('admin')
    for (const q of todo) {
      await ch.assertExchange(q, 'direct', { durable: true, autoDelete: false })
      await ch.assertQueue(q, { durable: true, autoDelete: false, exclusive: false })
      await ch.bindQueue(q, q, q)
      this.declared.add(q)
    }
  }

  /** This process's channel for gets and acks; a new one after a reconnect (held ones are gone). */
  private async getChannel(): Promise<Channel> {
    if (this.channel && this.generation === this.conn.generation) return this.channel
    this.held.clear()
    this.waiting.clear()
    const ch = await this.conn.ownChannel()
    ch.on('close', () => {
      if (this.channel === ch) {
        this.channel = null
        this.held.clear()
        this.waiting.clear()
      }
    })
    ch.on('error', () => {})
    this.channel = ch
    this.generation = this.conn.generation
    return ch
  }

  async publish(jobs: readonly OutgoingJob[]): Promise<void> {
    if (!jobs.length) return
    const out = jobs.map((j) => {
      const a = amqpOf(j.body)
      if (j.availableAt !== undefined && j.availableAt > Date.now()) {
        // A countdown travels as Celery's eta header, as Celery's producer writes it.
        const msg = decodeMessage(j.body)
        if (msg.eta === null) {
          msg.eta = new Date(j.availableAt).toISOString()
          return amqpOf(encodeMessage(msg, Number.MAX_SAFE_INTEGER))
        }
      }
      return a
    })
    await this.declare(out.map((o) => o.queue))
    const ch = await this.conn.channel('confirm')
    for (const o of out) ch.publish(o.queue, o.queue, o.content, o.options)
    try {
      await ch.waitForConfirms()
    } catch (cause) {
      throw this.conn.error('publish not confirmed', cause)
    }
  }

  consume(options: ConsumeOptions): Consumption {
    return pullConsume(this, options)
  }

  async reserve(queues: readonly string[], max: number, options: ReserveOptions): Promise<Delivery[]> {
    const deadline = Date.now() + (options.waitMs ?? 0)
    await this.declare(queues)
    for (;;) {
      const out = this.due(max)
      const ch = await this.getChannel()
      for (const q of queues) {
        while (out.length < max) {
          const msg = await ch.get(q, { noAck: false })
          if (!msg) break
          const d = await this.admit(ch, msg, q)
          if (d) out.push(d)
        }
      }
      if (out.length || Date.now() >= deadline || options.signal?.aborted) return out
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))))
    }
  }

  /** Held messages whose time has come, as deliveries. */
  private due(max: number): Delivery[] {
    const now = Date.now()
    const out: Delivery[] = []
    for (const [token, at] of this.waiting) {
      if (out.length >= max) break
      if (at > now) continue
      this.waiting.delete(token)
      const h = this.held.get(token)
      if (h) out.push(this.delivery(token, h))
    }
    return out
  }

  private delivery(token: string, h: Held): Delivery {
    const m = fromKombu(envelopeOf(h.msg), h.queue)
    return {
      id: m.id,
      token,
      fence: this.seq,
      queue: h.queue,
      body: m.body,
      priority: m.priority,
      deliveries: m.redelivered ? 2 : 1,
      ...(m.once ? { chosenId: true } : {}),
    }
  }

  /** A message just taken: dead-lettered when unreadable, held when due later, else a delivery. */
  private async admit(ch: Channel, msg: GetMessage, queue: string): Promise<Delivery | null> {
    const token = `${this.generation}:${msg.fields.deliveryTag}`
    this.seq++
    const h: Held = { msg, queue, channel: ch }
    this.held.set(token, h)
    let m
    try {
      m = fromKombu(envelopeOf(msg), queue)
    } catch (err) {
      if (!(err instanceof MalformedMessageError)) throw err
      const id = peekKombu(envelopeOf(msg)).id ?? token
      await this.deadLetter([{ id, token, reason: `malformed Celery message: ${err.message}` }])
      return null
    }
    if (m.etaMs !== null && m.etaMs > Date.now()) {
      this.waiting.set(token, m.etaMs)
      return null
    }
    return this.delivery(token, h)
  }

  private take(token: string): Held | undefined {
    const h = this.held.get(token)
    this.held.delete(token)
    this.waiting.delete(token)
    return h && h.channel === this.channel ? h : undefined
  }

  async extend(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => this.held.get(r.token)?.channel === this.channel && this.channel !== null)
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => {
      const h = this.take(r.token)
      if (h) h.channel.nack(h.msg, false, true)
      return h !== undefined
    })
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => {
      const h = this.take(r.token)
      if (h) h.channel.ack(h.msg)
      return h !== undefined
    })
  }

  /** Held in memory, unacknowledged, until due (Celery's worker does the same with ETA messages). */
  async defer(items: readonly DeferItem[]): Promise<boolean[]> {
    return items.map((it) => {
      const h = this.held.get(it.token)
      if (!h || h.channel !== this.channel) return false
      this.waiting.set(it.token, Date.now() + Math.max(0, it.delayMs))
      return true
    })
  }

  /** Celery's retry: the same id published again with `retries` raised and an eta; then the ack. */
  async retry(items: readonly RetryItem[]): Promise<boolean[]> {
    const live = items.filter((it) => this.held.get(it.token)?.channel === this.channel)
    const jobs = live.map((it) => {
      const msg = decodeMessage(it.body)
      msg.queue = this.held.get(it.token)!.queue
      msg.eta = it.delayMs > 0 ? new Date(Date.now() + it.delayMs).toISOString() : null
      return {
        id: msg.id,
        queue: msg.queue,
        priority: msg.priority,
        body: encodeMessage(msg, Number.MAX_SAFE_INTEGER),
      }
    })
    await this.publish(jobs)
    const acked = await this.ack(live)
    return items.map((it) => {
      const i = live.indexOf(it)
      return i >= 0 && acked[i]!
    })
  }

  async deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]> {
    const live = items.map((it) => ({ it, h: this.held.get(it.token) }))
    const ch = await this.conn.channel('confirm')
    await (await this.conn.channel('admin')).assertQueue(AMQP_DEAD, { durable: true })
    for (const { it, h } of live) {
      if (!h || h.channel !== this.channel) continue
      ch.sendToQueue(AMQP_DEAD, h.msg.content, {
        ...h.msg.properties,
        persistent: true,
        headers: {
          ...h.msg.properties.headers,
          'celeriac-id': it.id,
          'celeriac-queue': h.queue,
          'celeriac-reason': it.reason,
          'celeriac-failed-at': Date.now(),
        },
      })
    }
    try {
      await ch.waitForConfirms()
    } catch (cause) {
      throw this.conn.error('dead letter not confirmed', cause)
    }
    return live.map(({ it, h }) => {
      if (!h || h.channel !== this.channel) return false
      this.take(it.token)
      h.channel.ack(h.msg)
      return true
    })
  }

  async pause(queue: string): Promise<void> {
    throw new BrokerError(
      `pausing "${queue}" is not supported on celery+amqp:// (kombu has no paused queues)`,
    )
  }

  async resume(queue: string): Promise<void> {
    throw new BrokerError(
      `resuming "${queue}" is not supported on celery+amqp:// (kombu has no paused queues)`,
    )
  }

  async purge(queue: string): Promise<number> {
    await this.declare([queue])
    return (await (await this.conn.channel('admin')).purgeQueue(queue)).messageCount
  }

  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const list = queues ? [...queues] : [...this.declared]
    await this.declare(list)
    const ch = await this.conn.channel('admin')
    return Promise.all(
      list.map(async (queue) => ({
        queue,
        waiting: (await ch.checkQueue(queue)).messageCount,
        delayed: [...this.held.values()].filter((h) => h.queue === queue).length,
        active: 0,
        dead: 0,
        throughput: 0,
        paused: false,
      })),
    )
  }

  /** Reads the dead queue (every message is taken and put back unacknowledged). */
  async listDead(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const ch = await this.conn.ownChannel()
    try {
      await ch.assertQueue(AMQP_DEAD, { durable: true })
      const all: DeadJob[] = []
      for (;;) {
        const m = await ch.get(AMQP_DEAD, { noAck: false })
        if (!m) break
        const h = m.properties.headers ?? {}
        all.push({
          id: String(h['celeriac-id'] ?? m.properties.correlationId ?? ''),
          queue: String(h['celeriac-queue'] ?? ''),
          body: m.content.toString('utf8'),
          priority: Number(m.properties.priority ?? 0),
          reason: String(h['celeriac-reason'] ?? ''),
          failedAt: Number(h['celeriac-failed-at'] ?? 0),
          deliveries: 1,
        })
      }
      const off = options.offset ?? 0
      return all
        .filter((d) => options.queue === undefined || d.queue === options.queue)
        .slice(off, off + (options.limit ?? all.length))
    } finally {
      await ch.close().catch(() => {})
    }
  }

  replayDead(): Promise<number> {
    return Promise.reject(new ConfigError('replaying dead letters is not built for celery+amqp:// yet'))
  }

  /** Deletes dead letters: all of them, or those with these ids. */
  async deleteDead(ids?: readonly string[]): Promise<number> {
    const ch = await this.conn.ownChannel()
    try {
      await ch.assertQueue(AMQP_DEAD, { durable: true })
      if (!ids) return (await ch.purgeQueue(AMQP_DEAD)).messageCount
      let n = 0
      const keep: GetMessage[] = []
      for (;;) {
        const m = await ch.get(AMQP_DEAD, { noAck: false })
        if (!m) break
        if (ids.includes(String(m.properties.headers?.['celeriac-id']))) {
          ch.ack(m)
          n++
        } else keep.push(m)
      }
      for (const m of keep) ch.nack(m, false, true)
      return n
    } finally {
      await ch.close().catch(() => {})
    }
  }

  pruneDead(_options: PruneDeadOptions): Promise<number> {
    return Promise.reject(new ConfigError('pruning dead letters is not built for celery+amqp:// yet'))
  }
}
