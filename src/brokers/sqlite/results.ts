/**
 * The SQLite result store: a table in the same file as the broker by default. `wait` watches
 * the file's data_version, so a waiting `get()` reads only after someone committed.
 */
import {
  recordFromRow,
  type ResultRow,
  type ForgetOptions,
  type ResultRecord,
  type ResultStore,
  type WaitOptions,
} from '../../contracts/result-store.js'
import type BetterSqlite3 from 'better-sqlite3'
import { isReady } from '../../core/states.js'
import type { Db, SqliteDatabase } from './database.js'
import { SqlitePart } from './part.js'

type Statement = BetterSqlite3.Statement<unknown[]>

// The rules of ResultStore.set, in the WHERE of one upsert. A null fence (a write no delivery
// made, or a record from before fences were stored) is neither higher nor lower than another:
// it is never dropped as stale, and a record that is not ready replaces a ready one only when
// both fences are known and its own is higher. The highest fence written stays with the record.
const READY = "('SUCCESS', 'FAILURE', 'REVOKED')"
const UPSERT = `
INSERT INTO celeriac_results (id, state, task, result, error, retries, worker, started_at, done_at, updated_at, expires_at, fence)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
  state = excluded.state, task = coalesce(excluded.task, task), result = excluded.result, error = excluded.error,
  retries = excluded.retries, worker = excluded.worker, started_at = coalesce(excluded.started_at, started_at),
  done_at = excluded.done_at, updated_at = excluded.updated_at, expires_at = excluded.expires_at,
  fence = max(coalesce(excluded.fence, fence), coalesce(fence, excluded.fence))
WHERE coalesce(excluded.fence < celeriac_results.fence, 0) = 0
  AND NOT (celeriac_results.state IN ${READY} AND excluded.state NOT IN ${READY}
           AND coalesce(excluded.fence > celeriac_results.fence, 0) = 0)`

/** Per id: forget while the stored fence is at most the bound (a null bound or fence: always). */
const FORGET =
  'DELETE FROM celeriac_results WHERE id = @id AND (@bound IS NULL OR coalesce(fence <= @bound, 1))'

/** Longest single sleep of a wait; it looks again after each, so an endless wait is a loop of these. */
const WAIT_SLICE_MS = 1000

interface Prepared {
  setTx: BetterSqlite3.Transaction<(records: readonly ResultRecord[]) => void>
  getTx: BetterSqlite3.Transaction<(ids: readonly string[], now: number) => (ResultRow | undefined)[]>
  forgetTx: BetterSqlite3.Transaction<(ids: readonly string[], bounds?: readonly (number | null)[]) => number>
  cleanup: Statement
}

export class SqliteResultStore extends SqlitePart<Prepared> implements ResultStore {
  /** A path opens a connection of its own; a backend passes the connection its parts share. */
  constructor(target: string | SqliteDatabase) {
    super(target, 'result store')
  }

  protected prepare(db: Db): Prepared {
    const upsert = db.prepare(UPSERT)
    const get = db.prepare(
      'SELECT * FROM celeriac_results WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)',
    )
    const forget = db.prepare(FORGET)
    return {
      setTx: db.transaction((records: readonly ResultRecord[]) => {
        for (const r of records)
          upsert.run(
            r.id,
            r.state,
            r.task,
            r.result,
            r.error,
            r.retries,
            r.worker,
            r.startedAt,
            r.doneAt,
            r.updatedAt,
            r.expiresAt,
            r.fence ?? null,
          )
      }),
      getTx: db.transaction((ids: readonly string[], now: number) =>
        ids.map((id) => get.get(id, now) as ResultRow | undefined),
      ),
      forgetTx: db.transaction((ids: readonly string[], bounds?: readonly (number | null)[]) =>
        ids.reduce((n, id, i) => n + forget.run({ id, bound: bounds?.[i] ?? null }).changes, 0),
      ),
      cleanup: db.prepare('DELETE FROM celeriac_results WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    }
  }

  async set(records: readonly ResultRecord[]): Promise<void> {
    if (!records.length) return
    await this.database.write(this.st.setTx, records)
    this.database.notify()
  }

  async get(ids: readonly string[]): Promise<(ResultRecord | null)[]> {
    const st = this.st
    const rows = await this.database.run(() => st.getTx(ids, Date.now()))
    return rows.map((r) => (r ? recordFromRow(r) : null))
  }

  async wait(id: string, options: WaitOptions): Promise<ResultRecord | null> {
    // Absent or Infinity: no deadline. (A timer of Infinity ms would fire after 1 ms.)
    const deadline = Date.now() + (options.timeoutMs ?? Infinity)
    for (;;) {
      const seen = this.database.snapshot()
      const [r] = await this.get([id])
      const left = deadline - Date.now()
      if ((r && isReady(r.state)) || left <= 0 || options.signal?.aborted || !this.isOpen) return r ?? null
      await this.database.changed(Math.min(left, WAIT_SLICE_MS), options.signal, seen)
      // Closed while waiting: the wait ends with what it last saw.
      if (!this.isOpen) return r ?? null
    }
  }

  async forget(ids: readonly string[], options: ForgetOptions = {}): Promise<number> {
    if (!ids.length) return 0
    return this.database.write(this.st.forgetTx, ids, options.upToFence)
  }

  async cleanup(): Promise<number> {
    const st = this.st
    return this.database.run(() => st.cleanup.run(Date.now()).changes)
  }
}
