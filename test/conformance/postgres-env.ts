/**
 * The PostgreSQL of the conformance runners: DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test.
 * Each test file takes its own schema and drops it afterwards, so it never touches other data.
 */
import { randomUUID } from 'node:crypto'
import { after } from 'node:test'
import pg from 'pg'

export function postgresBaseUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
}

/** A fresh schema name, dropped (with everything in it) when the test file ends. */
export function postgresTestSchema(): string {
  const schema = `celeriac_test_${randomUUID().slice(0, 8)}`
  after(() => dropSchemas([schema]))
  return schema
}

/**
 * The URL of a schema on the test database. Pools are kept small: a suite opens many clients at
 * once and the server's connections are shared with every other test.
 */
export function postgresUrl(schema: string, pool = 2): string {
  const base = postgresBaseUrl()
  return `${base}${base.includes('?') ? '&' : '?'}schema=${schema}&pool=${pool}`
}

/** A URL with a fresh schema, dropped when the test file ends. */
export function postgresTestUrl(): string {
  return postgresUrl(postgresTestSchema())
}

export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (!schemas.length) return
  const client = new pg.Client({ connectionString: postgresBaseUrl() })
  await client.connect()
  try {
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  } finally {
    await client.end()
  }
}
