/**
 * `celery+amqp://user:pass@host:5672/vhost?results=redis://host:6379/db`: Celery's message
 * protocol v2 on RabbitMQ as Celery 5.2 lays it out (kombu's pyamqp transport): for each queue
 * `q`, a durable direct exchange `q` and a durable queue `q` bound to it by the key `q` (Celery's
 * default queue is `celery` on the `celery` exchange), persistent messages whose body is the JSON
 * `[args, kwargs, embed]` and whose AMQP headers are the protocol headers. Results live where
 * Celery keeps them in Redis: `results=` names the server (celery-task-meta-<id>, the same
 * format as celery+redis://); without it, give the app a `resultBackend: 'celery+redis://…'`.
 *
 * A push broker (amqp-consumer.ts): `basic.consume` with the worker's credit as the prefetch
 * window; a delivery stays unacknowledged on its consumer channel until the task ran (acks late);
 * if the process dies RabbitMQ delivers it again. A message due later (Celery's eta/countdown, a
 * retry, a deferral) is held unacknowledged in memory until due, as Celery's own worker holds ETA
 * messages. Dead letters go to the durable queue
 * `celeriac.celery.dead` (ours; kombu never reads it).
 */
import type {
  Broker,
  BrokerCapabilities,
  DeadJob,
  DeadLetterItem,
  DeferItem,
  LeaseRef,
  ListDeadOptions,
  OutgoingJob,
  PruneDeadOptions,
  QueueStats,
  RetryItem,
} from '../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../contracts/consumer.js'
import { BrokerError } from '../core/errors.js'
import { decodeMessage, encodeMessage } from '../core/message.js'
import type { AmqpConnection } from '../brokers/amqp/connection.js'
import { CeleryAmqpConsumption, type Held } from './amqp-consumer.js'
import { AMQP_DEAD, CeleryAmqpDead } from './amqp-dead.js'
import { toKombu } from './protocol.js'

export { AMQP_DEAD } from './amqp-dead.js'

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
    consumer: 'push',
    crossQueueOrder: 'none',
    leases: 'connection',
    blockingReserve: false,
    transactionalPublish: false,
    idempotentPublish: false,
  }
  private readonly declared = new Set<string>()
  private generation = -1
  /** Messages held unacknowledged by this process's consumers, by token. */
  private readonly held = new Map<string, Held>()
  private readonly running = new Set<CeleryAmqpConsumption>()
  private readonly dead: CeleryAmqpDead

  constructor(private readonly conn: AmqpConnection) {
    this.dead = new CeleryAmqpDead(conn, (queues) => this.declare(queues))
  }

  connect(): Promise<void> {
    return this.conn.connect()
  }

  async close(): Promise<void> {
    await Promise.all([...this.running].map((c) => c.stop()))
    this.running.clear()
    const channels = new Set([...this.held.values()].map((h) => h.session.channel))
    this.held.clear()
    await Promise.all([...channels].map((ch) => ch.close().catch(() => {})))
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
    const c = new CeleryAmqpConsumption(
      {
        conn: this.conn,
        held: this.held,
        declare: (queues) => this.declare(queues),
        deadLetter: (items) => this.deadLetter(items),
      },
      options,
    )
    this.running.add(c)
    return {
      grant: (n) => c.grant(n),
      stop: async () => {
        this.running.delete(c)
        await c.stop()
      },
    }
  }

  /** Takes a held message out to settle it; undefined when its channel closed (stale token). */
  private take(token: string): Held | undefined {
    const h = this.held.get(token)
    if (!h) return undefined
    this.held.delete(token)
    h.session.settled(token)
    return h.session.live ? h : undefined
  }

  private live(token: string): Held | undefined {
    const h = this.held.get(token)
    return h?.session.live ? h : undefined
  }

  async extend(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => this.live(r.token) !== undefined)
  }

  async release(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => {
      const h = this.take(r.token)
      if (h) h.session.channel.nack(h.msg, false, true)
      return h !== undefined
    })
  }

  async ack(refs: readonly LeaseRef[]): Promise<boolean[]> {
    return refs.map((r) => {
      const h = this.take(r.token)
      if (h) h.session.channel.ack(h.msg)
      return h !== undefined
    })
  }

  /** Held in memory, unacknowledged, until due (Celery's worker does the same with ETA messages). */
  async defer(items: readonly DeferItem[]): Promise<boolean[]> {
    return items.map((it) => {
      const h = this.live(it.token)
      h?.session.hold(it.token, Date.now() + Math.max(0, it.delayMs))
      return h !== undefined
    })
  }

  /** Celery's retry: the same id published again with `retries` raised and an eta; then the ack. */
  async retry(items: readonly RetryItem[]): Promise<boolean[]> {
    const live = items.filter((it) => this.live(it.token))
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
    const live = items.map((it) => ({ it, h: this.live(it.token) }))
    const ch = await this.conn.channel('confirm')
    await (await this.conn.channel('admin')).assertQueue(AMQP_DEAD, { durable: true })
    for (const { it, h } of live) {
      if (!h) continue
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
    return live.map(({ it }) => {
      const h = this.take(it.token)
      h?.session.channel.ack(h.msg)
      return h !== undefined
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

  /**
   * Waiting is RabbitMQ's ready count; active and delayed are the messages this process holds
   * unacknowledged (AMQP tells no one else's), delayed being those with an eta still ahead.
   */
  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    const dead = await this.dead.counts()
    const list = queues ? [...queues] : [...new Set([...this.declared, ...dead.keys()])].filter(Boolean)
    await this.declare(list)
    const ch = await this.conn.channel('admin')
    const now = Date.now()
    return Promise.all(
      list.map(async (queue) => {
        let active = 0
        let delayed = 0
        for (const h of this.held.values()) {
          if (h.queue !== queue || !h.session.live) continue
          const eta = h.msg.properties.headers?.eta as unknown
          if (typeof eta === 'string' && Date.parse(eta) > now) delayed++
          else active++
        }
        return {
          queue,
          waiting: (await ch.checkQueue(queue)).messageCount,
          delayed,
          active,
          dead: dead.get(queue) ?? 0,
          throughput: 0,
          paused: false,
        }
      }),
    )
  }

  listDead(options: ListDeadOptions = {}): Promise<DeadJob[]> {
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
}
