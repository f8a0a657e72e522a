/**
 * The dead letters of `celery+amqp://`: one durable queue, `celeriac.celery.dead` (ours; kombu
 * never reads it), holding each dead message as it arrived (Celery's body, properties and
 * headers) with `celeriac-*` headers for its id, queue, reason and time. AMQP cannot browse a
 * queue, so each call takes every entry with `basic.get` on a channel of its own, acknowledges
 * the ones it removes (after replaying them, confirmed) and closes the channel, which puts the
 * rest back: fine for a store of failures that an operator inspects, not for millions of entries.
 */
import type { GetMessage, Options } from 'amqplib'
import type { DeadJob, ListDeadOptions, PruneDeadOptions } from '../contracts/broker.js'
import type { AmqpConnection } from '../brokers/amqp/connection.js'

export const AMQP_DEAD = 'celeriac.celery.dead'
const BROWSE_LIMIT = 100_000

interface Entry {
  readonly m: GetMessage
  readonly job: DeadJob
}

function toDead(m: GetMessage): DeadJob {
  const h = m.properties.headers ?? {}
  return {
    id: String(h['celeriac-id'] ?? m.properties.correlationId ?? ''),
    queue: String(h['celeriac-queue'] ?? ''),
    body: m.content.toString('utf8'),
    priority: Number(m.properties.priority ?? 0),
    reason: String(h['celeriac-reason'] ?? ''),
    failedAt: Number(h['celeriac-failed-at'] ?? 0),
    deliveries: 1,
  }
}

/** The message as Celery sent it: its properties without our `celeriac-*` headers. */
function original(m: GetMessage): Options.Publish {
  const p = m.properties
  const headers = Object.fromEntries(
    Object.entries((p.headers ?? {}) as Record<string, unknown>).filter(([k]) => !k.startsWith('celeriac-')),
  )
  return {
    persistent: true,
    headers,
    ...(p.contentType ? { contentType: String(p.contentType) } : {}),
    ...(p.contentEncoding ? { contentEncoding: String(p.contentEncoding) } : {}),
    ...(p.correlationId ? { correlationId: String(p.correlationId) } : {}),
    ...(p.priority !== undefined ? { priority: Number(p.priority) } : {}),
  }
}

export class CeleryAmqpDead {
  constructor(
    private readonly conn: AmqpConnection,
    /** Declares Celery's layout for queues (exchange q, queue q, key q). */
    private readonly declare: (queues: readonly string[]) => Promise<void>,
  ) {}

  /**
   * Takes every entry, lets `pick` choose the ones to remove, runs `before` on them (a replay),
   * acknowledges them and puts the others back. Returns every entry read, newest first.
   */
  private async browse(
    pick: (entries: Entry[]) => Entry[],
    before?: (removed: Entry[]) => Promise<void>,
  ): Promise<{ all: DeadJob[]; removed: number }> {
    const ch = await this.conn.ownChannel()
    try {
      await ch.assertQueue(AMQP_DEAD, { durable: true })
      const entries: Entry[] = []
      while (entries.length < BROWSE_LIMIT) {
        const m = await ch.get(AMQP_DEAD, { noAck: false })
        if (!m) break
        entries.push({ m, job: toDead(m) })
      }
      // Read oldest first; entries of one batch share their time, so reverse before the stable sort.
      entries.reverse().sort((a, b) => b.job.failedAt - a.job.failedAt)
      const removed = pick(entries)
      if (removed.length && before) await before(removed)
      for (const e of removed) ch.ack(e.m)
      return { all: entries.map((e) => e.job), removed: removed.length }
    } finally {
      await ch.close().catch(() => {})
    }
  }

  async list(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const { all } = await this.browse(() => [])
    const off = options.offset ?? 0
    const mine = all.filter((d) => options.queue === undefined || d.queue === options.queue)
    return mine.slice(off, off + (options.limit ?? mine.length))
  }

  /** Dead entries per queue; nothing is read when the queue is empty. */
  async counts(): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    const ch = await this.conn.channel('admin')
    await ch.assertQueue(AMQP_DEAD, { durable: true })
    if (!(await ch.checkQueue(AMQP_DEAD)).messageCount) return out
    for (const d of await this.list()) out.set(d.queue, (out.get(d.queue) ?? 0) + 1)
    return out
  }

  /** Publishes dead messages back to their queues as Celery sent them (confirmed), then drops them. */
  async replay(ids?: readonly string[]): Promise<number> {
    const { removed } = await this.browse(
      (all) => all.filter((e) => e.job.queue && (!ids || ids.includes(e.job.id))),
      async (picked) => {
        await this.declare(picked.map((e) => e.job.queue))
        const ch = await this.conn.channel('confirm')
        for (const e of picked) ch.publish(e.job.queue, e.job.queue, e.m.content, original(e.m))
        try {
          await ch.waitForConfirms()
        } catch (cause) {
          throw this.conn.error('replayed dead letters not confirmed', cause)
        }
      },
    )
    return removed
  }

  async delete(ids?: readonly string[]): Promise<number> {
    if (!ids) {
      const ch = await this.conn.channel('admin')
      await ch.assertQueue(AMQP_DEAD, { durable: true })
      return (await ch.purgeQueue(AMQP_DEAD)).messageCount
    }
    return (await this.browse((all) => all.filter((e) => ids.includes(e.job.id)))).removed
  }

  async prune(options: PruneDeadOptions): Promise<number> {
    const { removed } = await this.browse((all) => {
      const seen = new Map<string, number>()
      return all.filter((e) => {
        const n = (seen.get(e.job.queue) ?? 0) + 1
        seen.set(e.job.queue, n)
        return (
          (options.before !== undefined && e.job.failedAt < options.before) ||
          (options.keep !== undefined && n > options.keep)
        )
      })
    })
    return removed
  }
}
