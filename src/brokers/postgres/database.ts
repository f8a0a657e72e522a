/**
 * One pg pool for a URL, shared by the broker, result store and coordination of that URL, with
 * what they all need: the schema (created and migrated on connect), statements named once per
 * text (so pg prepares each once per connection) and the LISTEN connection (notifier.ts).
 */
import { createHash } from 'node:crypto'
import type { Pool, QueryResult, QueryResultRow } from 'pg'
import { BrokerError } from '../../core/errors.js'
import { openClient, openPool } from './driver.js'
import { migrate } from './migrate.js'
import { Notifier } from './notifier.js'
import { parsePgUrl, type PgTarget } from './url.js'

/** A statement ready to run: its text for this schema and the name pg prepares it under. */
export interface Statement {
  readonly name: string
  readonly text: string
}

/** Anything that runs a statement: the pool, a pooled client, a caller's client inside BEGIN. */
export interface Queryable {
  query<R extends QueryResultRow>(config: {
    name?: string
    text: string
    values?: unknown[]
  }): Promise<QueryResult<R>>
}

/** Whether `value` can run statements (a pg Client or PoolClient, a Pool). */
export function isQueryable(value: unknown): value is Queryable {
  return typeof (value as { query?: unknown } | null)?.query === 'function'
}

export class PgDatabase {
  readonly target: PgTarget
  /** The schema, as written in statements and channel names. */
  readonly schema: string
  private listener: Notifier | null = null
  private pool: Pool | null = null
  private opening: Promise<void> | null = null
  private readonly statements = new Map<string, Statement>()

  constructor(url: string) {
    this.target = parsePgUrl(url)
    this.schema = this.target.schema
  }

  /** The LISTEN connection, opened by the first part that listens. */
  get notifier(): Notifier {
    this.listener ??= new Notifier(() => openClient({ connectionString: this.target.connectionString }))
    return this.listener
  }

  get isOpen(): boolean {
    return this.pool !== null
  }

  /** A notification channel of this schema: `<schema>.<name>`. */
  channel(name: string): string {
    return `${this.schema}.${name}`
  }

  /** Opens the pool and brings the schema to the current version. Idempotent. */
  connect(): Promise<void> {
    if (this.pool) return Promise.resolve()
    this.opening ??= (async () => {
      const pool = await openPool({
        connectionString: this.target.connectionString,
        max: this.target.poolSize,
      })
      // An idle client that loses its connection must not crash the process; the next query fails.
      pool.on('error', () => {})
      try {
        await migrate(pool, this.schema)
      } catch (err) {
        await pool.end().catch(() => {})
        if (err instanceof BrokerError) throw err
        throw new BrokerError(`cannot connect to PostgreSQL: ${(err as Error).message}`, { cause: err })
      }
      this.pool = pool
    })().finally(() => (this.opening = null))
    return this.opening
  }

  async close(): Promise<void> {
    await this.opening?.catch(() => {})
    await this.listener?.close()
    this.listener = null
    const pool = this.pool
    this.pool = null
    await pool?.end()
  }

  get db(): Pool {
    if (!this.pool)
      throw new BrokerError(
        `the PostgreSQL backend (schema "${this.schema}") is not connected (call connect() first)`,
      )
    return this.pool
  }

  /** The statement for `text`, whose `{s}` stands for the schema. */
  statement(text: string): Statement {
    let st = this.statements.get(text)
    if (!st) {
      const full = text.replaceAll('{s}', `"${this.schema}"`)
      const name = `celeriac_${createHash('sha1').update(full).digest('hex').slice(0, 20)}`
      this.statements.set(text, (st = { name, text: full }))
    }
    return st
  }

  /** Runs a statement on the pool, or on `on` (a caller's transaction). */
  async run<R extends QueryResultRow>(
    text: string,
    values: unknown[],
    on?: Queryable,
  ): Promise<QueryResult<R>> {
    const st = this.statement(text)
    const target: Queryable = on ?? this.db
    return target.query<R>({ name: st.name, text: st.text, values })
  }
}
