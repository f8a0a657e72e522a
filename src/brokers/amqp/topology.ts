/**
 * Names and declarations. Per celeriac queue `q` (with the URL's prefix `p.`):
 * - `p.q`: the work queue, durable; classic with `x-max-priority: 9` (the URL's `max-priority`; none
 *   with `max-priority=0`), or quorum (no priorities)
 * - `p.q.dead`: the dead-letter store of q (classic, durable)
 * - `p.q.paused`: the pause flag of q: paused while it holds a message
 * - `p.q.delay.<k>` for k in 0..LEVELS-1: the delay levels of q (see delays.ts)
 * - `p.q.lease.<uuid>`: one per delivery held past half the consumer_timeout (see leases.ts)
 * Declared once per connection generation on first use; declaring is idempotent in RabbitMQ.
 */
import type { Channel } from 'amqplib'
import type { AmqpConnection } from './connection.js'
import { LEVELS, READY_EXCHANGE, delayExchange, levelArgs, levelBinding, zeroBinding } from './delays.js'

export class Topology {
  private declared = new Set<string>()
  private generation = -1
  private exchangesReady = false
  /** Every queue this process has used, across reconnects (AMQP cannot list queues). */
  readonly known = new Set<string>()

  constructor(private readonly conn: AmqpConnection) {}

  work(queue: string): string {
    return this.conn.target.prefix + queue
  }
  dead(queue: string): string {
    return `${this.work(queue)}.dead`
  }
  paused(queue: string): string {
    return `${this.work(queue)}.paused`
  }
  /** A lease queue of q: holds one long-running delivery's copy (leases.ts). */
  lease(queue: string, name: string): string {
    return `${this.work(queue)}.lease.${name}`
  }
  level(queue: string, k: number): string {
    return `${this.work(queue)}.delay.${k}`
  }
  exchange(k: number): string {
    return this.conn.target.prefix + delayExchange(k)
  }
  readyExchange(): string {
    return this.conn.target.prefix + READY_EXCHANGE
  }

  private fresh(): void {
    if (this.generation === this.conn.generation) return
    this.generation = this.conn.generation
    this.declared = new Set()
    this.declaring = new Map()
    this.exchangesReady = false
  }

  private workArgs(): Record<string, unknown> {
    const t = this.conn.target
    if (t.queueType === 'quorum') return { 'x-queue-type': 'quorum' }
    return t.maxPriority > 0 ? { 'x-max-priority': t.maxPriority } : {}
  }

  /** Declares the work, dead and pause queues of `queues` not yet declared on this connection. */
  async queues(queues: readonly string[]): Promise<void> {
    this.fresh()
    const todo = [...new Set(queues)].filter((q) => !this.declared.has(q))
    if (!todo.length) return
    const ch = await this.conn.channel('admin')
    await Promise.all(
      todo.flatMap((q) => [
        ch.assertQueue(this.work(q), { durable: true, arguments: this.workArgs() }),
        ch.assertQueue(this.dead(q), { durable: true }),
        ch.assertQueue(this.paused(q), { durable: true }),
      ]),
    )
    for (const q of todo) {
      this.declared.add(q)
      this.known.add(q)
    }
  }

  /** Declarations of delay levels under way, by queue (a second caller waits for the first). */
  private declaring = new Map<string, Promise<void>>()

  /** Declares the delay exchanges (shared) and the delay levels of `queues`. */
  async delays(queues: readonly string[]): Promise<void> {
    await this.queues(queues)
    const generation = this.generation
    const wanted = [...new Set(queues)].filter((q) => !this.declared.has(`${q}\0delay`))
    const inFlight = wanted.flatMap((q) => this.declaring.get(q) ?? [])
    const todo = wanted.filter((q) => !this.declaring.has(q))
    if (todo.length) {
      const p = this.declareDelays(todo).finally(() => {
        for (const q of todo) if (this.declaring.get(q) === p) this.declaring.delete(q)
      })
      for (const q of todo) this.declaring.set(q, p)
      inFlight.push(p)
    }
    await Promise.all(inFlight)
    if (this.generation !== generation) await this.delays(queues)
  }

  /**
   * On a channel of its own: 36 levels take a while to declare (a second or so on a busy node),
   * and the admin channel must not queue the consumers' pause checks behind them.
   */
  private async declareDelays(todo: readonly string[]): Promise<void> {
    const ch = await this.conn.ownChannel()
    try {
      await this.declareLevels(ch, todo)
    } finally {
      await ch.close().catch(() => {})
    }
  }

  private async declareLevels(ch: Channel, todo: readonly string[]): Promise<void> {
    if (!this.exchangesReady) {
      await this.declareExchanges(ch)
      this.exchangesReady = true
    }
    const next = (k: number) => (k === 0 ? this.readyExchange() : this.exchange(k - 1))
    await Promise.all(
      todo.flatMap((q) => [
        ch.bindQueue(this.work(q), this.readyExchange(), '', { 'x-match': 'all', 'celeriac-queue': q }),
        ...Array.from({ length: LEVELS }, async (_, k) => {
          await ch.assertQueue(this.level(q, k), { durable: true, arguments: levelArgs(k, next(k)) })
          await ch.bindQueue(this.level(q, k), this.exchange(k), '', levelBinding(k, q))
        }),
      ]),
    )
    for (const q of todo) this.declared.add(`${q}\0delay`)
  }

  private async declareExchanges(ch: Channel): Promise<void> {
    await ch.assertExchange(this.readyExchange(), 'headers', { durable: true })
    await Promise.all(
      Array.from({ length: LEVELS }, (_, k) =>
        ch.assertExchange(this.exchange(k), 'headers', { durable: true }),
      ),
    )
    await Promise.all(
      Array.from({ length: LEVELS }, (_, k) =>
        ch.bindExchange(
          k === 0 ? this.readyExchange() : this.exchange(k - 1),
          this.exchange(k),
          '',
          zeroBinding(k),
        ),
      ),
    )
  }
}
