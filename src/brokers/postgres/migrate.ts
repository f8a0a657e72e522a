/**
 * Creates and migrates celeriac's schema. Workers starting together are safe: the migration runs
 * in one transaction under a transaction-level advisory lock named for the schema, so one process
 * migrates and the others wait, then find the schema current. A schema written by a newer
 * celeriac is refused, never downgraded.
 */
import type { Pool } from 'pg'
import { BrokerError } from '../../core/errors.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index.js'

/** The stored version, or null when the schema has no meta table yet. */
async function readVersion(db: Pick<Pool, 'query'>, schema: string): Promise<number | null> {
  const exists = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
    `"${schema}".meta`,
  ])
  if (exists.rows[0]?.t == null) return null
  const { rows } = await db.query<{ v: string }>(
    `SELECT value AS v FROM "${schema}".meta WHERE key = 'schema_version'`,
  )
  return rows[0] ? Number(rows[0].v) : null
}

function refuse(schema: string, stored: number): never {
  throw new BrokerError(
    `the PostgreSQL schema "${schema}" has version ${stored}, written by a newer celeriac than this one (${SCHEMA_VERSION}); upgrade celeriac, or use another schema (?schema=name)`,
  )
}

export async function migrate(pool: Pool, schema: string): Promise<void> {
  // The common case, a current schema, takes no lock.
  const seen = await readVersion(pool, schema)
  if (seen === SCHEMA_VERSION) return
  if (seen !== null && seen > SCHEMA_VERSION) refuse(schema, seen)

  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `celeriac.migrate:${schema}`,
    ])
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
    await client.query(`SET LOCAL search_path TO "${schema}"`)
    await client.query('CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)')
    const stored = (await readVersion(client, schema)) ?? 0
    if (stored > SCHEMA_VERSION) refuse(schema, stored)
    for (let v = stored + 1; v <= SCHEMA_VERSION; v++) await client.query(MIGRATIONS[v - 1]!)
    await client.query(
      `INSERT INTO meta (key, value) VALUES ('schema_version', $1)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [String(SCHEMA_VERSION)],
    )
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    if (err instanceof BrokerError) throw err
    throw new BrokerError(
      `cannot create or migrate the PostgreSQL schema "${schema}": ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  } finally {
    client.release()
  }
}
