/**
 * Brings a database file written by an older celeriac up to SCHEMA_VERSION, in the transaction
 * that creates the tables (so two processes opening an old file at once cannot both migrate it).
 * Users' files keep their jobs, dead letters and results.
 */
import type BetterSqlite3 from 'better-sqlite3'
import { BrokerError } from '../../core/errors.js'
import { SCHEMA_VERSION } from './schema.js'

type Db = BetterSqlite3.Database

function columns(db: Db, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name)
}

/** Steps from version n-1 to n, applied in order. Each is safe to run on a file already there. */
const STEPS: Record<number, (db: Db) => void> = {
  // 2: result records keep the fence of the delivery that wrote them; due rows are found per
  // queue (celeriac_jobs_due, created by the schema) instead of across all queues.
  2: (db) => {
    db.exec('DROP INDEX IF EXISTS celeriac_jobs_timed')
    if (!columns(db, 'celeriac_results').includes('fence'))
      db.exec('ALTER TABLE celeriac_results ADD COLUMN fence INTEGER')
  },
}

export function migrate(db: Db, path: string): void {
  const stored = Number(
    db.prepare("SELECT value FROM celeriac_meta WHERE key = 'schema_version'").pluck().get() ??
      SCHEMA_VERSION,
  )
  if (stored > SCHEMA_VERSION)
    throw new BrokerError(
      `the SQLite database ${path} has schema version ${stored}, written by a newer celeriac than this one (${SCHEMA_VERSION}); upgrade celeriac`,
    )
  for (let v = stored + 1; v <= SCHEMA_VERSION; v++) STEPS[v]?.(db)
  if (stored !== SCHEMA_VERSION)
    db.prepare("UPDATE celeriac_meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION))
}
