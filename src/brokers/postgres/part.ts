/**
 * What the broker, result store and coordination share: a database they were given (the
 * backend's, closed by the backend) or one of their own (opened from a URL, closed with them).
 */
import { BrokerError } from '../../core/errors.js'
import { PgDatabase } from './database.js'

export abstract class PgPart {
  readonly scheme = 'postgres'
  readonly database: PgDatabase
  private readonly owned: boolean
  private open = false

  constructor(
    target: string | PgDatabase,
    private readonly label: string,
  ) {
    this.owned = typeof target === 'string'
    this.database = typeof target === 'string' ? new PgDatabase(target) : target
  }

  async connect(): Promise<void> {
    await this.database.connect()
    this.open = true
  }

  async close(): Promise<void> {
    this.open = false
    await this.closing()
    if (this.owned) await this.database.close()
  }

  /** Ends what the part holds of the shared connection (its LISTEN handlers, its waits). */
  protected async closing(): Promise<void> {}

  protected get isOpen(): boolean {
    return this.open && this.database.isOpen
  }

  /** Throws unless connected. */
  protected ready(): PgDatabase {
    if (!this.isOpen)
      throw new BrokerError(`the PostgreSQL ${this.label} is not connected (call connect() first)`)
    return this.database
  }
}
