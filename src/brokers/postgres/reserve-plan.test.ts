/**
 * reserve() walks each queue's ready index in order and stops after what it takes, even when the
 * table's statistics were taken while it was empty (a bulk enqueue outruns autoanalyze): the
 * index entries it reads stay near the batch size, not the backlog (migration 3).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { postgresBaseUrl, postgresTestSchema, postgresUrl } from '../../../test/conformance/postgres-env.js'
import { PgDatabase } from './database.js'

describe('postgres: reserve over a large backlog', () => {
  it('reads about as many index entries as it takes, with statistics from an empty table', async () => {
    const schema = postgresTestSchema()
    const db = new PgDatabase(postgresUrl(schema, 1))
    await db.connect()
    await db.close()
    const client = new pg.Client({ connectionString: postgresBaseUrl() })
    await client.connect()
    try {
      const s = `"${schema}"`
      await client.query(`ANALYZE ${s}.jobs`)
      await client.query(
        `INSERT INTO ${s}.jobs (id, queue, priority, body)
         SELECT 'j' || g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g % 3, '{}' FROM generate_series(1, 30000) g`,
      )
      await client.query('BEGIN')
      const { rows } = await client.query<{ id: string; queue: string; priority: number; seq: string }>(
        `SELECT id, queue, priority, seq FROM ${s}.reserve(ARRAY['a', 'b'], 10, 30000)`,
      )
      const read = await client.query<{ n: string }>(
        `SELECT pg_stat_get_xact_tuples_returned('${s}.jobs_ready'::regclass) AS n`,
      )
      await client.query('COMMIT')
      assert.equal(rows.length, 10)
      // The first ten by priority, then arrival, across both queues.
      const { rows: expected } = await client.query<{ id: string }>(
        `SELECT 'j' || g AS id FROM generate_series(1, 30000) g ORDER BY g % 3 DESC, g LIMIT 10`,
      )
      assert.deepEqual(rows.map((r) => r.id).sort(), expected.map((r) => r.id).sort())
      const entries = Number(read.rows[0]!.n)
      assert.ok(entries <= 100, `reserve read ${entries} index entries to take 10 of 30,000`)
    } finally {
      await client.query(`DROP SCHEMA "${schema}" CASCADE`)
      await client.end()
    }
  })
})
