/**
 * Long deliveries and RabbitMQ's `consumer_timeout`: a delivery left unacknowledged for longer
 * makes RabbitMQ close the consumer's channel and requeue everything on it, so a task longer
 * than the timeout would be run again, and again, by whoever gets it next.
 *
 * So a delivery held for half the timeout is handed over to a lease queue of its own,
 * `<queue>.lease.<uuid>`: a durable classic queue whose `x-message-ttl` is the worker's lease
 * and which dead-letters into the work queue. A copy of the job (epoch + 1, this delivery
 * counted) is published there and confirmed, then the delivery is acknowledged: nothing is
 * unacknowledged any more, and the run goes on under the same token.
 *
 * - While the run goes on, the lease is renewed every third of its TTL: the copy is taken
 *   (`basic.get`), a fresh one published and confirmed, then the taken one acknowledged.
 * - The run's outcome (ack, retry, defer, dead letter, release) is published as usual, then the
 *   lease queue is deleted with its copy; RabbitMQ deletes a queue atomically, so either the copy
 *   was still there (the lease held) or it had already gone back to the work queue.
 * - If the worker dies or loses RabbitMQ for longer than the TTL, the copy expires into the work
 *   queue and another worker runs it, with a higher fence and the lost delivery counted: the same
 *   at-least-once as a lapsed lease on Redis. Finding the copy gone, the old run's settle is
 *   stale. An abandoned lease queue deletes itself (`x-expires`).
 *
 * No coordination part is needed, and the copy cannot run while its lease is renewed (it sits in
 * no queue anyone consumes). Cost: a declare, a confirmed publish and a queue delete per handed
 * over delivery, and one get, publish and ack per renewal: nothing for tasks shorter than half
 * the timeout.
 */
import { randomUUID } from 'node:crypto'
import type { Channel } from 'amqplib'
import type { AmqpConnection } from './connection.js'
import { countersOf, num, chosenOf, type Outgoing } from './message.js'
import type { Held, Session } from './sessions.js'
import type { Topology } from './topology.js'

/** Shortest lease TTL: renewals every third of it. */
const MIN_TTL_MS = 1_000
/** Pause before trying a failed renewal or deletion again (RabbitMQ away). */
const RETRY_MS = 1_000

export interface LeaseDeps {
  readonly conn: AmqpConnection
  readonly topology: Topology
  /** Publishes on the confirm channel and waits for the confirms. */
  publish(jobs: readonly Outgoing[]): Promise<void>
}

export interface Lease {
  readonly token: string
  /** The delivery as received: what retry, release and dead-letter copies are made from. */
  readonly held: Held
  /** The lease queue. */
  readonly name: string
  readonly ttlMs: number
  lost: boolean
  timer: NodeJS.Timeout | null
  /** Renewals and the end, one after the other. */
  busy: Promise<unknown>
}

/** Deliveries of a job counting this one: what a copy that comes back after a crash carries. */
export function deliveriesOf(held: Held): number {
  return countersOf(held.msg).deliveries + num(held.msg.properties.headers?.['x-delivery-count']) + 1
}

export class Leases {
  private readonly all = new Map<string, Lease>()
  private closed = false

  constructor(private readonly deps: LeaseDeps) {}

  /** The live lease of a ref (its token, of the ref's job). */
  find(ref: { readonly id: string; readonly token: string }): Lease | undefined {
    const l = this.all.get(ref.token)
    return l && !l.lost && String(l.held.msg.properties.messageId ?? '') === ref.id ? l : undefined
  }

  /** Handed over deliveries of `queue` in this process. */
  active(queue: string): number {
    let n = 0
    for (const l of this.all.values()) if (l.held.queue === queue) n++
    return n
  }

  private copy(held: Held, name: string): Outgoing {
    const m = held.msg
    return {
      id: String(m.properties.messageId ?? ''),
      queue: held.queue,
      body: m.content.toString('utf8'),
      priority: num(m.properties.priority),
      delayMs: 0,
      epoch: countersOf(m).epoch + 1,
      deliveries: deliveriesOf(held),
      ...chosenOf(m),
      target: name,
    }
  }

  /**
   * Hands delivery `tag` of `session` over to a new lease queue (a copy confirmed there, then the
   * delivery acknowledged). False when the delivery was settled meanwhile or its channel closed:
   * the copy is then deleted again.
   */
  async handOver(session: Session, tag: number, held: Held, ttlMs: number): Promise<boolean> {
    const ttl = Math.max(MIN_TTL_MS, Math.round(ttlMs))
    const name = this.deps.topology.lease(held.queue, randomUUID())
    const ch = await this.deps.conn.channel('lease')
    await ch.assertQueue(name, {
      durable: true,
      arguments: {
        'x-message-ttl': ttl,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': this.deps.topology.work(held.queue),
        // Deleted once unused for this long: after its copy went back, if nobody ended it.
        'x-expires': 2 * ttl + 60_000,
      },
    })
    await this.deps.publish([this.copy(held, name)])
    let acked = false
    if (session.take(tag))
      try {
        session.channel.ack(held.msg)
        acked = true
      } catch {
        // The channel is closing: RabbitMQ requeues the delivery itself.
      }
    if (!acked || this.closed) {
      await ch.deleteQueue(name).catch(() => {})
      return false
    }
    const lease: Lease = {
      token: `${session.id}:${tag}`,
      held,
      name,
      ttlMs: ttl,
      lost: false,
      timer: null,
      busy: Promise.resolve(),
    }
    this.all.set(lease.token, lease)
    this.arm(lease, ttl / 3)
    session.closeIfDrained()
    return true
  }

  private arm(lease: Lease, ms: number): void {
    if (this.closed || lease.lost) return
    lease.timer = setTimeout(() => {
      lease.timer = null
      lease.busy = lease.busy.then(() => this.renew(lease))
    }, ms)
    lease.timer.unref()
  }

  private async renew(lease: Lease): Promise<void> {
    if (lease.lost || !this.all.has(lease.token)) return
    let ch: Channel
    try {
      ch = await this.deps.conn.channel('lease')
      const taken = await ch.get(lease.name, { noAck: false })
      if (taken === false) {
        // Expired into the work queue (RabbitMQ was away longer than the TTL): someone else runs it.
        this.drop(lease)
        return
      }
      try {
        await this.deps.publish([this.copy(lease.held, lease.name)])
      } catch (err) {
        // Not confirmed: the taken copy goes back (keeping its expiry), tried again shortly.
        ch.nack(taken, false, true)
        throw err
      }
      ch.ack(taken)
      this.arm(lease, lease.ttlMs / 3)
    } catch {
      this.arm(lease, RETRY_MS)
    }
  }

  private drop(lease: Lease): void {
    lease.lost = true
    if (lease.timer) clearTimeout(lease.timer)
    this.all.delete(lease.token)
  }

  /**
   * Ends a lease once its outcome was published: deletes the lease queue and its copy. True when
   * the copy was still there (the lease held), false when it had gone back to the work queue.
   * If RabbitMQ is away, true, and the deletion is tried again in the background (should the copy
   * expire first, the job runs once more: at least once).
   */
  end(lease: Lease): Promise<boolean> {
    if (lease.lost) return Promise.resolve(false)
    if (lease.timer) clearTimeout(lease.timer)
    lease.timer = null
    const done = lease.busy.then(async () => {
      if (lease.lost) return false
      try {
        const ch = await this.deps.conn.channel('lease')
        const { messageCount } = await ch.deleteQueue(lease.name)
        this.drop(lease)
        return messageCount > 0
      } catch {
        this.drop(lease)
        this.deleteLater(lease.name)
        return true
      }
    })
    lease.busy = done
    return done
  }

  private deleteLater(name: string): void {
    if (this.closed) return
    setTimeout(() => {
      this.deps.conn
        .channel('lease')
        .then((ch) => ch.deleteQueue(name))
        .catch(() => this.deleteLater(name))
    }, RETRY_MS).unref()
  }

  /** Stops renewing: copies of unfinished runs go back to their queues when their TTL runs out. */
  close(): void {
    this.closed = true
    for (const l of this.all.values()) if (l.timer) clearTimeout(l.timer)
    this.all.clear()
  }
}
