/**
 * The SQLite result store: a table in the same file as the broker by default. `wait` watches
 * the file's data_version, so a waiting `get()` reads only after someone committed.
 */
import type { ForgetOptions, ResultRecord, ResultStore, WaitOptions } from '../../contracts/result-store.js'
import type BetterSqlite3 from 'better-sqlite3'
import { BrokerError } from '../../core/errors.js'
import { isReady, type TaskState } from '../../core/states.js'
import { acquire, type SharedDb } from './database.js'

type Statement = BetterSqlite3.Statement<unknown[]>

interface Row {
  id: string
  state: TaskState
  task: string | null
  result: string | null
  error: string | null
  retries: number
  worker: string | null
  started_at: number | null
  done_at: number | null
  updated_at: number
  expires_at: number | null
  fence: number | null
}

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

function toRecord(r: Row): ResultRecord {
  return {
    id: r.id,
    state: r.state,
    task: r.task,
    result: r.result,
    error: r.error,
    retries: r.retries,
    worker: r.worker,
    startedAt: r.started_at,
    doneAt: r.done_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
    fence: r.fence,
  }
}

export class SqliteResultStore implements ResultStore {
  readonly scheme = 'sqlite'
  private shared: SharedDb | null = null
  private setTx!: BetterSqlite3.Transaction<(records: readonly ResultRecord[]) => void>
  private getStmt!: Statement
  private forgetStmt!: Statement
  private cleanupStmt!: Statement

  constructor(readonly path: string) {}

  async connect(): Promise<void> {
    if (this.shared) return
    this.shared = acquire(this.path)
    const db = this.shared.db
    const upsert = db.prepare(UPSERT)
    this.setTx = db.transaction((records: readonly ResultRecord[]) => {
      for (const r of records) {
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
      }
    })
    this.getStmt = db.prepare(
      'SELECT * FROM celeriac_results WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)',
    )
    this.forgetStmt = db.prepare(FORGET)
    this.cleanupStmt = db.prepare(
      'DELETE FROM celeriac_results WHERE expires_at IS NOT NULL AND expires_at <= ?',
    )
  }

  private get live(): SharedDb {
    if (!this.shared) throw new BrokerError('the SQLite result store is not connected (call connect() first)')
    return this.shared
  }

  async close(): Promise<void> {
    this.shared?.release()
    this.shared = null
  }

  async set(records: readonly ResultRecord[]): Promise<void> {
    if (!records.length) return
    const shared = this.live
    this.setTx.immediate(records)
    shared.notify()
  }

  private read(id: string): ResultRecord | null {
    const row = this.getStmt.get(id, Date.now()) as Row | undefined
    return row ? toRecord(row) : null
  }

  async get(ids: readonly string[]): Promise<(ResultRecord | null)[]> {
    if (!this.shared) throw new BrokerError('the SQLite result store is not connected (call connect() first)')
    return ids.map((id) => this.read(id))
  }

  async wait(id: string, options: WaitOptions): Promise<ResultRecord | null> {
    const shared = this.live
    // Absent or Infinity: no deadline. (A timer of Infinity ms would fire after 1 ms.)
    const deadline = Date.now() + (options.timeoutMs ?? Infinity)
    for (;;) {
      const r = this.read(id)
      const left = deadline - Date.now()
      if ((r && isReady(r.state)) || left <= 0 || options.signal?.aborted || !this.shared) return r
      await shared.changed(Math.min(left, WAIT_SLICE_MS), options.signal)
    }
  }

  async forget(ids: readonly string[], options: ForgetOptions = {}): Promise<number> {
    const db = this.live.db
    const bounds = options.upToFence
    return db
      .transaction(() =>
        ids.reduce((n, id, i) => n + this.forgetStmt.run({ id, bound: bounds?.[i] ?? null }).changes, 0),
      )
      .immediate()
  }

  async cleanup(): Promise<number> {
    return this.cleanupStmt.run(Date.now()).changes
  }
}
