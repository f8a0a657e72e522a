/** The SQLite broker's dead-letter store: the table celeriac_dead, kept until replayed or pruned. */
import type { DeadJob, ListDeadOptions, PruneDeadOptions } from '../../contracts/broker.js'
import type { SqliteDatabase } from './database.js'
import type { Statements } from './statements.js'

interface DeadRow {
  id: string
  queue: string
  priority: number
  body: string
  reason: string
  failed_at: number
  deliveries: number
}

/** An entry taken for replay, with its rowid. */
type TakenRow = DeadRow & { n: number }

export class DeadLetters {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly statements: () => Statements,
  ) {}

  async list(options: ListDeadOptions = {}): Promise<DeadJob[]> {
    const st = this.statements()
    const limit = options.limit ?? 100
    const offset = options.offset ?? 0
    const rows = (await this.database.run(() =>
      options.queue ? st.listDeadQueue.all(options.queue, limit, offset) : st.listDead.all(limit, offset),
    )) as DeadRow[]
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

  /**
   * Moves entries back to their queues, skipping (and keeping) those whose id is live again. The
   * next delivery's fence comes from the shared counter, so it is above any earlier one.
   */
  async replay(ids?: readonly string[]): Promise<number> {
    const st = this.statements()
    const tx = this.database.db.transaction(() => {
      const rows = (ids ? st.takeDeadIds.all(JSON.stringify(ids)) : st.takeDeadAll.all()) as TakenRow[]
      // Back in the order they failed, so the oldest failure runs first (rowid: the order
      // dead-lettered within one millisecond).
      rows.sort((a, b) => a.failed_at - b.failed_at || a.n - b.n)
      for (const r of rows) st.insertReplayed.run(r.id, r.queue, r.priority, r.body)
      return rows.length
    })
    const n = await this.database.write(tx)
    if (n) this.database.notify()
    return n
  }

  async delete(ids?: readonly string[]): Promise<number> {
    const st = this.statements()
    const tx = this.database.db.transaction(() =>
      ids ? ids.reduce((n, id) => n + st.deleteDead.run(id).changes, 0) : st.deleteAllDead.run().changes,
    )
    return this.database.write(tx)
  }

  async prune(options: PruneDeadOptions): Promise<number> {
    const st = this.statements()
    const tx = this.database.db.transaction(() => {
      let n = 0
      if (options.before !== undefined) n += st.pruneDeadBefore.run(options.before).changes
      if (options.keep !== undefined) n += st.pruneDeadKeep.run(Math.max(0, options.keep)).changes
      return n
    })
    return this.database.write(tx)
  }
}
