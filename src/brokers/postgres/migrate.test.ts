/** The schema is created once by workers starting together, and a newer schema is refused. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { postgresBaseUrl, postgresTestSchema, postgresUrl } from '../../../test/conformance/postgres-env.js'
import { PgDatabase } from './database.js'
import { SCHEMA_VERSION } from './migrations/index.js'

describe('postgres: schema migration', () => {
  it('creates the schema once when several processes connect at the same moment', async () => {
    const schema = postgresTestSchema()
    const dbs = Array.from({ length: 6 }, () => new PgDatabase(postgresUrl(schema, 1)))
    try {
      await Promise.all(dbs.map((d) => d.connect()))
      const { rows } = await dbs[0]!.db.query<{ value: string }>(
        `SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`,
      )
      assert.deepEqual(rows, [{ value: String(SCHEMA_VERSION) }])
    } finally {
      await Promise.all(dbs.map((d) => d.close()))
    }
  })

  it('refuses a schema written by a newer celeriac, saying so', async () => {
    const schema = postgresTestSchema()
    const first = new PgDatabase(postgresUrl(schema, 1))
    await first.connect()
    await first.close()
    const client = new pg.Client({ connectionString: postgresBaseUrl() })
    await client.connect()
    await client.query(`UPDATE "${schema}".meta SET value = $1 WHERE key = 'schema_version'`, [
      String(SCHEMA_VERSION + 1),
    ])
    await client.end()
    const later = new PgDatabase(postgresUrl(schema, 1))
    await assert.rejects(later.connect(), /written by a newer celeriac than this one.*upgrade celeriac/)
    await later.close()
  })
})
