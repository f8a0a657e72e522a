/**
 * The SQLite result store: a table in the same file as the broker by default. `wait` watches
 * the file's data_version, so a waiting `get()` reads only after someone committed.
 */
import type { ResultRecord, ResultStore, WaitOptions } from '../../contracts/result-store.js'
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
}

const UPSERT = `
INSERT INTO celeriac_results (id, state, task, result, error, retries, worker, started_at, done_at, updated_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
  state = excluded.state, task = coalesce(excluded.task, task), result = excluded.result, error = excluded.error,
  retries = excluded.retries, worker = excluded.worker, started_at = coalesce(excluded.started_at, started_at),
  done_at = excluded.done_at, updated_at = excluded.updated_at, expires_at = excluded.expires_at
WHERE NOT (celeriac_results.state IN ('SUCCESS', 'FAILURE', 'REVOKED') AND excluded.state NOT IN ('SUCCESS', 'FAILURE', 'REVOKED'))`

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
        )
      }
    })
    this.getStmt = db.prepare(
      'SELECT * FROM celeriac_results WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)',
    )
    this.forgetStmt = db.prepare('DELETE FROM celeriac_results WHERE id = ?')
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
    const deadline = Date.now() + options.timeoutMs
    for (;;) {
      const r = this.read(id)
      const left = deadline - Date.now()
      if ((r && isReady(r.state)) || left <= 0 || options.signal?.aborted || !this.shared) return r
      await shared.changed(Math.min(left, 1000), options.signal)
    }
  }

  async forget(ids: readonly string[]): Promise<number> {
    const db = this.live.db
    return db.transaction(() => ids.reduce((n, id) => n + this.forgetStmt.run(id).changes, 0)).immediate()
  }

  async cleanup(): Promise<number> {
    return this.cleanupStmt.run(Date.now()).changes
  }
}
