/**
 * What the broker, result store and coordination share: a connection they were given (the
 * backend's, closed by the backend) or one of their own (opened from a path, closed with them),
 * and statements prepared once per connection.
 */
import { BrokerError } from '../../core/errors.js'
import { SqliteDatabase, type Db } from './database.js'

export abstract class SqlitePart<S> {
  readonly scheme = 'sqlite'
  /** The connection this part runs on. */
  readonly database: SqliteDatabase
  private readonly owned: boolean
  private prepared: { db: Db; st: S } | null = null
  private open = false

  constructor(
    target: string | SqliteDatabase,
    private readonly label: string,
  ) {
    this.owned = typeof target === 'string'
    this.database = typeof target === 'string' ? new SqliteDatabase(target) : target
  }

  get path(): string {
    return this.database.path
  }

  /** Prepares what the part runs on a newly opened connection. */
  protected abstract prepare(db: Db): S

  async connect(): Promise<void> {
    await this.database.connect()
    const db = this.database.db
    if (this.prepared?.db !== db) this.prepared = { db, st: this.prepare(db) }
    this.open = true
  }

  async close(): Promise<void> {
    this.open = false
    if (this.owned) await this.database.close()
    // Waits of this part end; the shared connection's other waiters look again and sleep on.
    else this.database.notify()
  }

  protected get isOpen(): boolean {
    return this.open && this.database.isOpen
  }

  /** The prepared statements; throws when the part is not connected. */
  protected get st(): S {
    if (!this.isOpen || !this.prepared)
      throw new BrokerError(`the SQLite ${this.label} is not connected (call connect() first)`)
    return this.prepared.st
  }
}
