/**
 * The caller's transaction, whichever client holds it, as one `Queryable` for publish:
 *
 * - a pg `Client` / `PoolClient` inside `BEGIN` (anything with `query(config)`), used as is;
 * - postgres.js: the `sql` that `sql.begin(async (sql) => …)` or `sql.savepoint(…)` hands the
 *   callback (it has `savepoint`), through `sql.unsafe(text, values, { prepare: true })`;
 * - Kysely: the `trx` of `db.transaction().execute(async (trx) => …)` (`isTransaction` is true),
 *   through `trx.executeQuery(CompiledQuery.raw(text, values))`, Kysely's documented raw query,
 *   whatever dialect runs underneath (pg, postgres.js).
 *
 * A client outside a transaction is refused where it can be told apart (postgres.js's top-level
 * `sql`, a Kysely instance that is not a transaction); a pg client cannot say whether it is inside
 * `BEGIN`, so with one it is the caller's word.
 */
import type { QueryResult, QueryResultRow } from 'pg'
import { BrokerError, ConfigError } from '../../core/errors.js'
import { isQueryable, type Queryable } from './database.js'

/** postgres.js's transaction-scoped `sql`, structurally. */
interface PostgresJsSql {
  (...args: never[]): unknown
  unsafe(text: string, values: unknown[], options: { prepare: boolean }): Promise<QueryResultRow[]>
  savepoint?: unknown
  begin?: unknown
}

/** Kysely's `Transaction`, structurally. */
interface KyselyLike {
  readonly isTransaction: boolean
  executeQuery(query: unknown): Promise<{ rows: QueryResultRow[] }>
}

const WHAT =
  'a pg Client or PoolClient inside BEGIN, the sql that postgres.js sql.begin() gives its callback, or a Kysely transaction'

function isPostgresJs(value: unknown): value is PostgresJsSql {
  return typeof value === 'function' && typeof (value as { unsafe?: unknown }).unsafe === 'function'
}

function isKysely(value: unknown): value is KyselyLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { executeQuery?: unknown }).executeQuery === 'function' &&
    typeof (value as { isTransaction?: unknown }).isTransaction === 'boolean'
  )
}

function result<R extends QueryResultRow>(rows: readonly QueryResultRow[]): QueryResult<R> {
  return { rows: [...rows] as R[], rowCount: rows.length, command: '', oid: 0, fields: [] }
}

type Raw = (sql: string, parameters: readonly unknown[]) => unknown
let compiledRaw: Promise<Raw> | null = null

/** Kysely's `CompiledQuery.raw`, from the caller's own Kysely (an optional peer). */
function kyselyRaw(): Promise<Raw> {
  compiledRaw ??= import('kysely').then(
    (mod) => (sql, parameters) => mod.CompiledQuery.raw(sql, [...parameters]),
    (cause: unknown) => {
      compiledRaw = null
      throw new ConfigError('a Kysely transaction needs the kysely package importable beside celeriac', {
        cause,
      })
    },
  )
  return compiledRaw
}

/** The caller's transaction as a Queryable, or a BrokerError naming what it takes. */
export function transactionTarget(tx: unknown): Queryable {
  if (isPostgresJs(tx)) {
    if (typeof tx.savepoint !== 'function')
      throw new BrokerError(
        'publish({ transaction }) got postgres.js sql outside a transaction: pass the sql that sql.begin(async (sql) => …) gives your callback',
      )
    return {
      query: async <R extends QueryResultRow>(q: { text: string; values?: unknown[] }) =>
        result<R>(await tx.unsafe(q.text, q.values ?? [], { prepare: true })),
    }
  }
  if (isKysely(tx)) {
    if (!tx.isTransaction)
      throw new BrokerError(
        'publish({ transaction }) got a Kysely instance that is not a transaction: pass the trx of db.transaction().execute(async (trx) => …)',
      )
    return {
      query: async <R extends QueryResultRow>(q: { text: string; values?: unknown[] }) => {
        const raw = await kyselyRaw()
        return result<R>((await tx.executeQuery(raw(q.text, q.values ?? []))).rows)
      },
    }
  }
  if (isQueryable(tx)) return tx
  throw new BrokerError(`publish({ transaction }) on postgres:// takes ${WHAT}`)
}
