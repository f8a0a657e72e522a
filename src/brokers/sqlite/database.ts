/**
 * One better-sqlite3 connection to a database file, with what every part on it needs: the schema
 * (created and migrated on connect), asynchronous retries while another process holds the write
 * lock (busy.ts), and the change watch that wakes waiting consumers (watch.ts).
 */
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'
import { BadUrlError, BrokerError } from '../../core/errors.js'
import { BUSY_TIMEOUT_MS, retryBusy } from './busy.js'
import { migrate } from './migrate.js'
import { SCHEMA } from './schema.js'
import { ChangeWatch, type Snapshot } from './watch.js'

export type Db = BetterSqlite3.Database

/** Parses `sqlite://./file.db`, `sqlite:///abs/file.db` or `sqlite://file.db`. */
export function sqlitePath(url: string): string {
  const m = /^sqlite:\/\/([^?#]*)/i.exec(url)
  const raw = m ? decodeURIComponent(m[1]!) : ''
  if (!raw)
    throw new BadUrlError(
      url,
      ['sqlite'],
      'it names no file; write sqlite://./celeriac.db or sqlite:///absolute/path.db',
    )
  return resolve(raw)
}

const require = createRequire(import.meta.url)

function driver(): typeof BetterSqlite3 {
  try {
    return require('better-sqlite3') as typeof BetterSqlite3
  } catch (err) {
    throw new BrokerError('the SQLite broker needs better-sqlite3 12.x: npm install better-sqlite3@12', {
      cause: err,
    })
  }
}

export class SqliteDatabase {
  readonly path: string
  /** Write transactions begun on this connection (BEGIN IMMEDIATE, retries included). */
  writeLocks = 0
  private handle: Db | null = null
  private watch: ChangeWatch | null = null
  private opening: Promise<void> | null = null

  constructor(path: string) {
    this.path = resolve(path)
  }

  get isOpen(): boolean {
    return this.handle !== null
  }

  get db(): Db {
    if (!this.handle)
      throw new BrokerError(`the SQLite database ${this.path} is not open (call connect() first)`)
    return this.handle
  }

  /** Opens the file, creating or migrating the schema. Idempotent. */
  connect(): Promise<void> {
    if (this.handle) return Promise.resolve()
    this.opening ??= this.open().finally(() => (this.opening = null))
    return this.opening
  }

  private async open(): Promise<void> {
    const Database = driver()
    let db: Db
    try {
      mkdirSync(dirname(this.path), { recursive: true })
      db = new Database(this.path, { timeout: BUSY_TIMEOUT_MS })
    } catch (err) {
      throw new BrokerError(`cannot open SQLite database ${this.path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    try {
      await retryBusy(() => db.pragma('journal_mode = WAL'), this.path)
      db.pragma('synchronous = NORMAL')
      db.pragma('temp_store = MEMORY')
      db.pragma('cache_size = -32000')
      const setup = db.transaction(() => {
        db.exec(SCHEMA)
        migrate(db, this.path)
      })
      await retryBusy(() => setup.immediate(), this.path)
    } catch (err) {
      db.close()
      if (err instanceof BrokerError) throw err
      throw new BrokerError(`cannot open SQLite database ${this.path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    const dataVersion = db.prepare('PRAGMA data_version').pluck()
    this.watch = new ChangeWatch(() => dataVersion.get() as number)
    this.handle = db
  }

  /** Closes the connection; waiters wake. Idempotent. */
  async close(): Promise<void> {
    await this.opening?.catch(() => {})
    this.watch?.stop()
    this.watch = null
    this.handle?.close()
    this.handle = null
  }

  /** Runs statements outside a write transaction, trying again while the file is locked. */
  run<T>(fn: () => T): Promise<T> {
    return retryBusy(fn, this.path)
  }

  /** Runs a transaction under BEGIN IMMEDIATE (the write lock), trying again while it is taken. */
  write<A extends unknown[], R>(tx: BetterSqlite3.Transaction<(...args: A) => R>, ...args: A): Promise<R> {
    return retryBusy(() => {
      this.writeLocks++
      return tx.immediate(...args)
    }, this.path)
  }

  snapshot(): Snapshot {
    return this.live.snapshot()
  }

  /** Resolves on a commit (here or in another process) after `since`, on abort, or after `ms`. */
  changed(ms: number, signal?: AbortSignal, since?: Snapshot): Promise<void> {
    if (!this.watch) return Promise.resolve()
    return this.watch.changed(ms, signal, since)
  }

  /** Wakes local waiters after a commit on this connection. */
  notify(): void {
    this.watch?.notify()
  }

  private get live(): ChangeWatch {
    if (!this.watch)
      throw new BrokerError(`the SQLite database ${this.path} is not open (call connect() first)`)
    return this.watch
  }
}
