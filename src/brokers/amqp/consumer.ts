/**
 * The push consumer: one channel per consumption, `basic.consume` on each of its queues, and the
 * credit the worker grants mapped onto the channel's `basic.qos` window (shared by the queues'
 * consumers on classic queues), so RabbitMQ never sends more than the worker has room for.
 *
 * Redeliveries on classic queues: RabbitMQ marks them `redelivered` but does not count them. So a
 * redelivered copy is not handed over; it is published again with its counters raised (epoch + 1,
 * deliveries + 1, confirmed) and then acknowledged, and the new copy arrives as a first delivery
 * with a higher fence. Deliveries that arrive after stop, or wait unhanded when it is called, are
 * given back the same way with their counts unchanged (settle.ts, giveBackCopy). The worker thus sees exact delivery counts (its poison-message limit works)
 * and a later delivery always has a higher fence than an earlier one. Quorum queues count
 * redeliveries themselves (`x-delivery-count`), so there copies are handed over as they come.
 *
 * The channel closing (RabbitMQ restart, a network cut, `consumer_timeout`) puts every unacked
 * message back in RabbitMQ: their tokens turn stale, and the consumer opens a new channel by
 * itself (after the connection is back, or after a short pause for a channel-level close).
 *
 * So that `consumer_timeout` never closes it, a watch looks at the held deliveries every sixth of
 * the timeout: one held for half of it is handed over to a lease queue if the worker has it
 * (leases.ts), or given back uncounted if it still waits here for credit. A handed over delivery
 * frees a place in RabbitMQ's window that the worker has not granted, so the window shrinks.
 */
import type { Channel, ConsumeMessage } from 'amqplib'
import type { Delivery } from '../../contracts/broker.js'
import type { ConsumeOptions, Consumption } from '../../contracts/consumer.js'
import type { AmqpConnection } from './connection.js'
import type { Leases } from './leases.js'
import { parseToken, toDelivery, type Outgoing } from './message.js'
import type { Held, Session, Sessions } from './sessions.js'
import { giveBackCopy } from './settle.js'
import type { Topology } from './topology.js'

const PAUSE_POLL_MS = 1_000
const RESTART_MS = 500

export interface ConsumerDeps {
  readonly conn: AmqpConnection
  readonly topology: Topology
  readonly sessions: Sessions
  readonly leases: Leases
  /** Publishes copies on the confirm channel and waits for their confirms. */
  republish(jobs: readonly Outgoing[]): Promise<void>
  /** The queues among `queues` whose pause flag is set. */
  paused(queues: readonly string[]): Promise<Set<string>>
  /** Consumptions of this broker, told at once when this process pauses or resumes a queue. */
  readonly running: Set<AmqpConsumption>
}

export class AmqpConsumption implements Consumption {
  private credit: number
  private window = 0
  private running = true
  private session: Session | null = null
  private starting: Promise<void> | null = null
  private readonly tags = new Map<string, string>()
  private pending: Delivery[] = []
  /** Give-backs of deliveries that arrived after stop, awaited by stop. */
  private readonly returning: Promise<void>[] = []
  private flushing = false
  /** A raise of the channel-wide window waits for the end of the turn (raiseLater). */
  private raising = false
  private failing = false
  private lastError: unknown = null
  private checking: Promise<void> = Promise.resolve()
  private readonly unlisten: () => void
  private readonly poll: NodeJS.Timeout
  /** Hands over deliveries held too long (when the server has a consumer_timeout). */
  private readonly watch: NodeJS.Timeout | null = null

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly o: ConsumeOptions,
  ) {
    this.credit = o.credit
    this.unlisten = deps.conn.onChange((up) =>
      up ? void this.start() : this.failed(deps.conn.error('connection lost')),
    )
    this.poll = setInterval(() => void this.checkPaused(), PAUSE_POLL_MS)
    this.poll.unref()
    const timeout = deps.conn.target.consumerTimeoutMs
    if (timeout > 0) {
      this.watch = setInterval(() => this.handOverOld(timeout / 2), Math.max(100, timeout / 6))
      this.watch.unref()
    }
    deps.running.add(this)
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
        this.restartLater()
      })
      .finally(() => (this.starting = null))
    return this.starting
  }

  private restartLater(): void {
    if (this.running) setTimeout(() => void this.start(), RESTART_MS).unref()
  }

  private async open(): Promise<void> {
    await this.deps.topology.queues(this.o.queues)
    const ch = await this.deps.conn.ownChannel()
    const session = this.deps.sessions.open(ch)
    ch.on('error', (err: unknown) => (this.lastError = err))
    ch.on('close', () => this.closed(session))
    // A prefetch of 0 means no limit in AMQP: with no credit, the queues are not consumed until
    // a grant (a worker whose slots are all busy when it reconnects must not receive a job that
    // another worker could run now).
    this.window = this.credit
    // Quorum queues refuse a channel-wide (global) window; there each consumer gets the window.
    if (this.window > 0) await ch.prefetch(this.window, this.deps.conn.target.queueType !== 'quorum')
    this.session = session
    await this.checkPaused()
    // Then the delay levels, in the background: a worker's first retry into one of its queues
    // need not wait for 36 declarations (a failure here is retried by the publish itself).
    this.deps.topology.delays(this.o.queues).catch(() => {})
    if (this.failing) this.o.onRecovered?.()
    this.failing = false
  }

  private closed(session: Session): void {
    if (this.session !== session) return
    this.session = null
    this.tags.clear()
    this.pending = []
    if (!this.running) return
    if (this.deps.conn.up) {
      // A channel-level close with the connection up: consumer_timeout, a deleted queue.
      this.failed(this.lastError ?? this.deps.conn.error('consumer channel closed'))
      this.restartLater()
    }
  }

  /** Consumes the queues that are not paused and cancels the consumers of paused ones. */
  checkPaused(): Promise<void> {
    this.checking = this.checking.then(async () => {
      const session = this.session
      if (!session || !this.running) return
      try {
        const paused = await this.deps.paused(this.o.queues)
        for (const q of this.o.queues) {
          if (this.session !== session || !this.running) return
          const tag = this.tags.get(q)
          if (paused.has(q) && tag) {
            this.tags.delete(q)
            await session.channel.cancel(tag)
          } else if (!paused.has(q) && !tag && this.window > 0) {
            const ok = await session.channel.consume(this.deps.topology.work(q), (m) =>
              this.arrive(m, q, session),
            )
            this.tags.set(q, ok.consumerTag)
          }
        }
      } catch (err) {
        this.lastError = err
      }
    })
    return this.checking
  }

  private arrive(msg: ConsumeMessage | null, queue: string, session: Session): void {
    if (!msg) {
      // Cancelled by RabbitMQ (the queue was deleted): subscribe again on the next check.
      this.tags.delete(queue)
      return
    }
    if (this.session !== session || !session.live) return
    const held = { msg, queue, at: Date.now() }
    session.held.set(msg.fields.deliveryTag, held)
    if (!this.running) {
      // Sent before the cancel took effect: given back uncounted, never handed over.
      this.returning.push(this.giveBack([held], session))
      return
    }
    if (msg.fields.redelivered && this.deps.conn.target.queueType === 'classic') {
      // Recounted: the copy given back carries the lost delivery in its count.
      void this.giveBack([held], session)
      return
    }
    this.pending.push(toDelivery(msg, queue, session.id))
    this.schedule()
  }

  /**
   * Puts held messages back as new copies (giveBackCopy: the deliveries they had, epoch + 1),
   * confirmed, then acknowledges them. If that fails they are nacked back to the queue (where
   * a classic queue flags them redelivered: counted once more, never lost).
   */
  private async giveBack(held: readonly Held[], session: Session): Promise<void> {
    const queueType = this.deps.conn.target.queueType
    try {
      await this.deps.republish(held.map((h) => giveBackCopy(h, queueType)))
      session.ack(held.filter((h) => session.take(h.msg.fields.deliveryTag)))
    } catch {
      for (const h of held)
        if (session.take(h.msg.fields.deliveryTag)) session.channel.nack(h.msg, false, true)
    }
    session.closeIfDrained()
  }

  /**
   * Deliveries held longer than `age`: the worker's are handed over to lease queues, the ones
   * still waiting here for credit are given back uncounted (the worker never saw them).
   */
  private handOverOld(age: number): void {
    const s = this.session
    if (!s || !s.live || !s.held.size) return
    const limit = Date.now() - age
    let waiting: Set<number> | null = null
    const back: Held[] = []
    for (const [tag, h] of s.held) {
      if (h.at > limit || h.leasing) continue
      waiting ??= new Set(this.pending.map((d) => parseToken(d.token)!.tag))
      if (waiting.has(tag)) {
        back.push(h)
        continue
      }
      h.leasing = true
      this.deps.leases.handOver(s, tag, h, this.o.leaseMs).then(
        (moved) => moved && this.narrow(s),
        (err: unknown) => {
          h.leasing = false
          this.lastError = err
        },
      )
    }
    if (back.length) {
      const tags = new Set(back.map((h) => h.msg.fields.deliveryTag))
      this.pending = this.pending.filter((d) => !tags.has(parseToken(d.token)!.tag))
      void this.giveBack(back, s)
    }
  }

  /**
   * After a hand-over: RabbitMQ's window counts one unacknowledged delivery fewer, but the worker
   * granted no more credit, so the window shrinks to what the worker has room for (no consumers
   * at all when that is nothing: a prefetch of 0 means no limit).
   */
  private narrow(s: Session): void {
    if (this.session !== s || !this.running) return
    const quorum = this.deps.conn.target.queueType === 'quorum'
    const wanted = quorum ? this.credit : this.credit + s.held.size
    if (wanted >= this.window) return
    this.window = wanted
    if (!quorum && wanted > 0) {
      s.channel.prefetch(wanted, true).catch(() => {})
      return
    }
    // Quorum consumers keep the window they were created with: cancelled, and created again.
    this.checking = this.checking.then(async () => {
      if (this.session !== s || !this.running) return
      try {
        for (const [q, tag] of [...this.tags]) {
          this.tags.delete(q)
          await s.channel.cancel(tag)
        }
        if (this.window > 0) await s.channel.prefetch(this.window, false)
      } catch (err) {
        this.lastError = err
      }
    })
    if (this.window > 0) void this.checkPaused()
  }

  private schedule(): void {
    if (this.flushing) return
    this.flushing = true
    // Deliveries parsed from one socket read arrive in one turn: hand them over together.
    queueMicrotask(() => {
      this.flushing = false
      this.flush()
    })
  }

  private flush(): void {
    if (!this.running || this.credit <= 0 || !this.pending.length) return
    const got = this.pending.splice(0, this.credit)
    this.credit -= got.length
    this.o.onDeliveries(got)
  }

  grant(n: number): void {
    this.credit += n
    this.flush()
    const s = this.session
    if (!s) return
    if (this.deps.conn.target.queueType === 'quorum') return this.widenQuorum(s)
    // Classic: one channel-wide window over everything unacked, raised in place.
    const wanted = this.credit + s.held.size
    if (wanted <= this.window) return
    const first = this.window === 0
    this.window = wanted
    if (!first) return this.raiseLater(s)
    s.channel
      .prefetch(wanted, true)
      // The queues were left unconsumed while there was no credit: consume them now.
      .then(() => this.checkPaused())
      .catch(() => {})
  }

  /**
   * Sends the raised window at the end of this turn: the worker grants a slot at a time as tasks
   * finish (before their acks), so the window grows by one per finished task until it covers the
   * worker's settle backlog; one `basic.qos` for all the grants of a turn instead of one each
   * (800 while a default worker drained 20,000 jobs). The window only lags RabbitMQ's by a turn.
   */
  private raiseLater(s: Session): void {
    if (this.raising) return
    this.raising = true
    setImmediate(() => {
      this.raising = false
      // The window as it is now (a hand-over may have narrowed it; 0 would mean no limit).
      if (this.session !== s || !this.running || this.window <= 0) return
      s.channel.prefetch(this.window, true).catch(() => {})
    })
  }

  /**
   * Quorum queues take only a per-consumer window, and `basic.qos` changes it for consumers
   * created afterwards only. So a wider window means new consumers: the prefetch is set to the
   * credit, the current consumers are cancelled (their unacked deliveries stay settleable on the
   * channel) and the queues consumed again.
   */
  private widenQuorum(s: Session): void {
    const tags = new Set(this.tags.values())
    let unacked = 0
    for (const h of s.held.values()) if (tags.has(h.msg.fields.consumerTag ?? '')) unacked++
    if (this.credit + unacked <= this.window) return
    this.window = this.credit
    this.checking = this.checking.then(async () => {
      if (this.session !== s || !this.running) return
      try {
        await s.channel.prefetch(this.window, false)
        for (const [q, tag] of [...this.tags]) {
          this.tags.delete(q)
          await s.channel.cancel(tag)
        }
      } catch (err) {
        this.lastError = err
      }
    })
    void this.checkPaused()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    clearInterval(this.poll)
    if (this.watch) clearInterval(this.watch)
    this.unlisten()
    this.deps.running.delete(this)
    await this.starting
    await this.checking
    const s = this.session
    if (!s) return
    const ch: Channel = s.channel
    await Promise.all([...this.tags.values()].map((t) => ch.cancel(t).catch(() => {})))
    this.tags.clear()
    const back = this.pending.splice(0).flatMap((d) => {
      const h = s.held.get(Number(d.token.split(':')[1]))
      return h ? [h] : []
    })
    if (back.length && s.live) this.returning.push(this.giveBack(back, s))
    await Promise.allSettled(this.returning.splice(0))
    s.draining = true
    s.closeIfDrained()
  }
}
