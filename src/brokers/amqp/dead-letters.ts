/**
 * The dead-letter store: a durable `<queue>.dead` queue per celeriac queue, one message per dead
 * job with its reason in headers. AMQP cannot browse a queue, so listing, replaying and deleting
 * take every message with `basic.get` on a channel of their own, acknowledge the ones removed and
 * close the channel, which puts the rest back in their order. That reads the whole store each
 * time (up to BROWSE_LIMIT per queue) and hides its entries from other readers meanwhile: fine
 * for a store of failures that an operator inspects, not for millions of entries.
 */
import type { GetMessage } from 'amqplib'
import type { DeadJob, ListDeadOptions, PruneDeadOptions } from '../../contracts/broker.js'
import type { AmqpConnection } from './connection.js'
import { chosenOf, countersOf, type Outgoing } from './message.js'
import type { Topology } from './topology.js'

export const BROWSE_LIMIT = 100_000

function toDead(m: GetMessage, queue: string): DeadJob {
  const h = m.properties.headers ?? {}
  return {
    id: String(m.properties.messageId ?? ''),
    queue,
    body: m.content.toString('utf8'),
    priority: Number(m.properties.priority ?? 0),
    reason: String(h['celeriac-reason'] ?? ''),
    failedAt: Number(h['celeriac-failed-at'] ?? 0),
    deliveries: Number(h['celeriac-deliveries'] ?? 0),
  }
}

/**
 * Sorts entries read in queue order (oldest first) newest first. Entries of one dead-letter batch
 * share their failure time; reversing before the (stable) sort keeps them newest first too.
 */
function newestFirst<T>(entries: T[], failedAt: (e: T) => number): void {
  entries.reverse().sort((a, b) => failedAt(b) - failedAt(a))
}

export class DeadLetters {
  constructor(
    private readonly conn: AmqpConnection,
    private readonly topology: Topology,
    /** Queues to look at when none is named. */
    private readonly known: () => string[],
    private readonly publish: (jobs: readonly Outgoing[]) => Promise<void>,
  ) {}

  /**
   * Takes every entry of the queues, lets `pick` choose the ones to remove (after `before`, which
   * may publish them elsewhere), acknowledges those and puts the others back.
   */
  private async browse(
    queues: readonly string[],
    pick: (entries: { m: GetMessage; job: DeadJob }[]) => { m: GetMessage; job: DeadJob }[],
    before?: (removed: { m: GetMessage; job: DeadJob }[]) => Promise<void>,
  ): Promise<DeadJob[]> {
    await this.topology.queues(queues)
    const ch = await this.conn.ownChannel()
    try {
      const entries: { m: GetMessage; job: DeadJob }[] = []
      for (const q of queues)
        for (let i = 0; i < BROWSE_LIMIT; i++) {
          const m = await ch.get(this.topology.dead(q), { noAck: false })
          if (!m) break
          entries.push({ m, job: toDead(m, q) })
        }
      const removed = pick(entries)
      if (removed.length) {
        await before?.(removed)
        for (const r of removed) ch.ack(r.m)
      }
      return removed.map((r) => r.job)
    } finally {
      // Closing returns the unacknowledged entries; acks sent before it are applied first.
      await ch.close().catch(() => {})
    }
  }

  private queuesOf(queue?: string): string[] {
    return queue ? [queue] : this.known()
  }

  async list(o: ListDeadOptions = {}): Promise<DeadJob[]> {
    let all: DeadJob[] = []
    await this.browse(this.queuesOf(o.queue), (entries) => {
      all = entries.map((e) => e.job)
      return []
    })
    newestFirst(all, (j) => j.failedAt)
    const offset = o.offset ?? 0
    return all.slice(offset, o.limit === undefined ? undefined : offset + o.limit)
  }

  async replay(ids?: readonly string[]): Promise<number> {
    const want = ids ? new Set(ids) : null
    const done = await this.browse(
      this.known(),
      (entries) => entries.filter((e) => !want || want.has(e.job.id)),
      (removed) =>
        this.publish(
          removed.map(({ m, job }) => ({
            id: job.id,
            queue: job.queue,
            body: job.body,
            priority: job.priority,
            delayMs: 0,
            epoch: countersOf(m).epoch + 1,
            deliveries: job.deliveries,
            ...chosenOf(m),
          })),
        ),
    )
    return done.length
  }

  async delete(ids?: readonly string[]): Promise<number> {
    const want = ids ? new Set(ids) : null
    return (await this.browse(this.known(), (entries) => entries.filter((e) => !want || want.has(e.job.id))))
      .length
  }

  async prune(o: PruneDeadOptions): Promise<number> {
    const done = await this.browse(this.known(), (entries) => {
      const byQueue = new Map<string, typeof entries>()
      for (const e of entries) byQueue.set(e.job.queue, [...(byQueue.get(e.job.queue) ?? []), e])
      const out: typeof entries = []
      for (const list of byQueue.values()) {
        newestFirst(list, (e) => e.job.failedAt)
        list.forEach((e, i) => {
          if ((o.before !== undefined && e.job.failedAt < o.before) || (o.keep !== undefined && i >= o.keep))
            out.push(e)
        })
      }
      return out
    })
    return done.length
  }
}
