/** The PostgreSQL broker's dead-letter store: the table `dead`, kept until replayed or pruned. */
import type { DeadJob, ListDeadOptions, PruneDeadOptions } from '../../contracts/broker.js'
import type { PgDatabase } from './database.js'
import { DELETE_DEAD, LIST_DEAD, PRUNE_DEAD, REPLAY_DEAD } from './sql/dead.js'

interface DeadRow {
  id: string
  queue: string
  priority: number
  body: string
  reason: string
  failed_at: number
  deliveries: number
}

export class DeadLetters {
  constructor(private readonly db: () => PgDatabase) {}

  async list(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const { rows } = await this.db().run<DeadRow>(LIST_DEAD, [
      options.queue ?? null,
      options.limit ?? 100,
      options.offset ?? 0,
    ])
    return rows.map((r) => ({
      id: r.id,
      queue: r.queue,
      priority: r.priority,
      body: r.body,
      reason: r.reason,
      failedAt: r.failed_at,
      deliveries: r.deliveries,
    }))
  }

  /** The next delivery's fence comes from the fence sequence, so it is above any earlier one. */
  async replay(ids: readonly string[] | undefined, channel: string): Promise<number> {
    const { rows } = await this.db().run<{ replayed: number }>(REPLAY_DEAD, [ids ?? null, channel])
    return rows[0]?.replayed ?? 0
  }

  async delete(ids?: readonly string[]): Promise<number> {
    return (await this.db().run(DELETE_DEAD, [ids ?? null])).rowCount ?? 0
  }

  async prune(options: PruneDeadOptions): Promise<number> {
    const keep = options.keep === undefined ? null : Math.max(0, options.keep)
    return (await this.db().run(PRUNE_DEAD, [options.before ?? null, keep])).rowCount ?? 0
  }
}
