/**
 * The push consumer of `celery+amqp://`: one channel per consumption, `basic.consume` on each of
 * its queues, and the credit the worker grants mapped onto the channel's `basic.qos` window, so
 * RabbitMQ never sends more than the worker has room for and nothing polls.
 *
 * A message due later (Celery's eta/countdown, a retry, a deferral) is held unacknowledged on the
 * channel until its time, as Celery's own worker holds ETA messages, and the window is widened by
 * one for each such message so that it does not take a slot's room. Unreadable messages are
 * dead-lettered with the reason on arrival. Deliveries stay unacknowledged until the task ran
 * (acks late): if the channel or the process goes, RabbitMQ delivers them again, flagged
 * `redelivered` (counted as a second delivery, as kombu counts it).
 */
import type { Channel, ConsumeMessage, Message } from 'amqplib'
import type { DeadLetterItem, Delivery } from '../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../contracts/consumer.js'
import { MalformedMessageError } from '../core/errors.js'
import type { AmqpConnection } from '../brokers/amqp/connection.js'
import { fromKombu, peekKombu, type KombuIn } from './protocol.js'

const RESTART_MS = 500

/** One consumer channel; a delivery's token names it, and only a live one can settle it. */
export interface Session {
  readonly id: number
  readonly channel: Channel
  live: boolean
  /** Puts a handed-over message back in the timer of the consumption that holds it (a defer). */
  hold(token: string, dueMs: number): void
  /** A held message was settled (acked, nacked or dead-lettered) and is no longer held. */
  settled(token: string): void
}

export interface Held {
  readonly msg: Message
  readonly queue: string
  readonly session: Session
}

export interface ConsumerDeps {
  readonly conn: AmqpConnection
  /** Every message held by this process, by token. */
  readonly held: Map<string, Held>
  declare(queues: readonly string[]): Promise<void>
  deadLetter(items: readonly DeadLetterItem[]): Promise<boolean[]>
}

let nextSession = 1

/** kombu's envelope for a message read from RabbitMQ, for the shared codec (protocol.ts). */
export function envelopeOf(msg: Message): string {
  const p = msg.properties
  return JSON.stringify({
    body: msg.content.toString('utf8'),
    'content-type': p.contentType ?? null,
    'content-encoding': p.contentEncoding ?? null,
    headers: p.headers ?? {},
    properties: { priority: p.priority ?? 0, delivery_info: { redelivered: msg.fields.redelivered } },
  })
}

export function deliveryOf(token: string, h: Held, fence: number, read?: KombuIn): Delivery {
  const m = read ?? fromKombu(envelopeOf(h.msg), h.queue)
  return {
    id: m.id,
    token,
    fence,
    queue: h.queue,
    body: m.body,
    message: m.message,
    priority: m.priority,
    deliveries: m.redelivered ? 2 : 1,
    ...(m.once ? { chosenId: true } : {}),
  }
}

export class CeleryAmqpConsumption implements Consumption {
  private credit: number
  private window = 0
  private running = true
  private session: Session | null = null
  private starting: Promise<void> | null = null
  private consuming = false
  private readonly tags: string[] = []
  private pending: Delivery[] = []
  /** Held messages not yet due: token → due time (ms); Infinity while being dead-lettered. */
  private readonly waiting = new Map<string, number>()
  /** Deliveries handed over and not settled yet. */
  private readonly handed = new Set<string>()
  private retuning = false
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private scheduled = false
  private failing = false
  private lastError: unknown = null
  private fence = Date.now() * 1000
  private readonly unlisten: () => void

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly o: ConsumeOptions,
  ) {
    this.credit = o.credit
    this.unlisten = deps.conn.onChange((up) =>
      up ? void this.start() : this.failed(deps.conn.error('connection lost')),
    )
    void this.start()
  }

  private failed(err: unknown): void {
    if (!this.running) return
    if (!this.failing) this.o.onError?.(err)
    this.failing = true
  }

  private start(): Promise<void> {
    if (!this.running || this.session || !this.deps.conn.up) return Promise.resolve()
    this.starting ??= this.open()
      .catch((err: unknown) => {
        this.failed(err)
        if (this.running) setTimeout(() => void this.start(), RESTART_MS).unref()
      })
      .finally(() => (this.starting = null))
    return this.starting
  }

  private async open(): Promise<void> {
    await this.deps.declare(this.o.queues)
    const channel = await this.deps.conn.ownChannel()
    const session: Session = {
      id: nextSession++,
      channel,
      live: true,
      hold: (token, dueMs) => {
        this.handed.delete(token)
        this.hold(token, dueMs)
        this.retune()
      },
      settled: (token) => {
        this.handed.delete(token)
        this.waiting.delete(token)
        this.retune()
        if (!this.running) this.closeIfDrained()
      },
    }
    channel.on('error', (err: unknown) => (this.lastError = err))
    channel.on('close', () => this.closed(session))
    this.session = session
    this.consuming = false
    this.tags.length = 0
    // A prefetch of 0 means no limit in AMQP: with no credit the queues are left unconsumed
    // until a grant.
    this.window = this.credit
    if (this.window > 0) await this.subscribe(session)
    if (this.failing) this.o.onRecovered?.()
    this.failing = false
  }

  private async subscribe(session: Session): Promise<void> {
    if (this.consuming) return
    this.consuming = true
    await session.channel.prefetch(this.window, true)
    for (const q of this.o.queues) {
      if (this.session !== session || !this.running) return
      const ok = await session.channel.consume(q, (m) => this.arrive(m, q, session), { noAck: false })
      this.tags.push(ok.consumerTag)
    }
  }

  private closed(session: Session): void {
    session.live = false
    for (const [token, h] of this.deps.held) if (h.session === session) this.deps.held.delete(token)
    if (this.session !== session) return
    this.session = null
    this.pending = []
    this.waiting.clear()
    this.handed.clear()
    if (!this.running) return
    if (this.deps.conn.up) {
      // A channel-level close with the connection up: consumer_timeout, a deleted queue.
      this.failed(this.lastError ?? this.deps.conn.error('consumer channel closed'))
      setTimeout(() => void this.start(), RESTART_MS).unref()
    }
  }

  private arrive(msg: ConsumeMessage | null, queue: string, session: Session): void {
    if (!msg || this.session !== session || !session.live) return
    if (!this.running) {
      session.channel.nack(msg, false, true)
      return
    }
    const token = `${session.id}:${msg.fields.deliveryTag}`
    const h: Held = { msg, queue, session }
    this.deps.held.set(token, h)
    let m
    try {
      m = fromKombu(envelopeOf(msg), queue)
    } catch (err) {
      if (!(err instanceof MalformedMessageError)) throw err
      const id = peekKombu(envelopeOf(msg)).id ?? token
      this.waiting.set(token, Infinity)
      this.retune()
      void this.deps
        .deadLetter([{ id, token, reason: `malformed Celery message: ${err.message}` }])
        .catch((e: unknown) => (this.lastError = e))
      return
    }
    if (m.etaMs !== null && m.etaMs > Date.now()) {
      this.hold(token, m.etaMs)
      this.retune()
      return
    }
    this.pending.push(deliveryOf(token, h, this.fence++, m))
    this.schedule()
  }

  /** Holds a message until `dueMs`, then hands it over as a delivery (within the credit). */
  private hold(token: string, dueMs: number): void {
    this.waiting.set(token, dueMs)
    if (dueMs < this.timerAt) {
      if (this.timer) clearTimeout(this.timer)
      this.timerAt = dueMs
      this.timer = setTimeout(() => this.wake(), Math.max(0, dueMs - Date.now()))
      this.timer.unref()
    }
  }

  private wake(): void {
    this.timer = null
    this.timerAt = Infinity
    const now = Date.now()
    let next = Infinity
    for (const [token, at] of this.waiting) {
      if (at > now) {
        next = Math.min(next, at)
        continue
      }
      this.waiting.delete(token)
      const h = this.deps.held.get(token)
      if (h && h.session.live) this.pending.push(deliveryOf(token, h, this.fence++))
    }
    if (next < Infinity) {
      this.timerAt = next
      this.timer = setTimeout(() => this.wake(), Math.max(0, next - Date.now()))
      this.timer.unref()
    }
    this.flush()
  }

  /**
   * The window is the worker's room (credit + deliveries handed over) plus the messages held that
   * take no slot (due later, being dead-lettered), as Celery's worker raises its prefetch for ETA
   * messages. It changes only when those do, so a steady stream of plain tasks sets no qos.
   */
  private retune(): void {
    if (this.retuning) return
    this.retuning = true
    queueMicrotask(() => {
      this.retuning = false
      const s = this.session
      if (!s || !this.running) return
      const wanted = this.credit + this.handed.size + this.waiting.size
      if (wanted === this.window || wanted === 0) return
      const first = !this.consuming
      this.window = wanted
      if (first) void this.subscribe(s).catch((err: unknown) => (this.lastError = err))
      else s.channel.prefetch(wanted, true).catch(() => {})
    })
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    // Deliveries parsed from one socket read arrive in one turn: hand them over together.
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    if (!this.running || this.credit <= 0 || !this.pending.length) return
    const got = this.pending.splice(0, this.credit)
    this.credit -= got.length
    for (const d of got) this.handed.add(d.token)
    this.o.onDeliveries(got)
  }

  grant(n: number): void {
    this.credit += n
    this.flush()
    this.retune()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.unlisten()
    if (this.timer) clearTimeout(this.timer)
    await this.starting
    const s = this.session
    if (!s) return
    await Promise.all(this.tags.map((t) => s.channel.cancel(t).catch(() => {})))
    // Not handed over: back to the queue now (due ones and those held for later alike).
    const back = [...this.pending.map((d) => d.token), ...this.waiting.keys()]
    this.pending = []
    this.waiting.clear()
    for (const token of back) {
      const h = this.deps.held.get(token)
      if (!h || h.session !== s) continue
      this.deps.held.delete(token)
      if (s.live) s.channel.nack(h.msg, false, true)
    }
    this.closeIfDrained()
  }

  /** After stop, the channel closes once the deliveries handed over are settled. */
  private closeIfDrained(): void {
    const s = this.session
    if (this.running || !s || !s.live || this.handed.size || this.waiting.size) return
    s.live = false
    this.session = null
    s.channel.close().catch(() => {})
  }
}
