/**
 * reserve() walks each queue's ready index in order and stops after what it takes, even when the
 * table's statistics were taken while it was empty (a bulk enqueue outruns autoanalyze): the
 * index entries it reads stay near the batch size, not the backlog (migration 3). And the
 * housekeeping leader's tidy() vacuums the jobs table once dead rows pile up, for servers whose
 * autovacuum is off or behind; so does a broker that settles many jobs, without waiting for it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { postgresBaseUrl, postgresTestSchema, postgresUrl } from '../../../test/conformance/postgres-env.js'
import { PostgresBroker } from './broker.js'
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

describe('postgres: tidy', () => {
  it('vacuums the jobs table once dead rows pile up, and leaves it alone otherwise', async () => {
    const schema = postgresTestSchema()
    const broker = new PostgresBroker(postgresUrl(schema, 1))
    await broker.connect()
    const client = new pg.Client({ connectionString: postgresBaseUrl() })
    await client.connect()
    const s = `"${schema}"`
    const deadRows = async () => {
      const { rows } = await client.query<{ n: string }>(
        `SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
        [schema],
      )
      return Number(rows[0]!.n)
    }
    try {
      // Autovacuum off for this table, whatever the server does, so that tidy() is what vacuums.
      await client.query(`ALTER TABLE ${s}.jobs SET (autovacuum_enabled = false)`)
      assert.equal(await broker.tidy(), null, 'nothing to do on an empty table')
      await client.query(
        `INSERT INTO ${s}.jobs (id, queue, body) SELECT 'j' || g, 'q', '{}' FROM generate_series(1, 60000) g`,
      )
      await client.query(`DELETE FROM ${s}.jobs`)
      await client.query('SELECT pg_stat_force_next_flush()')
      await client.query('SELECT 1')
      assert.ok((await deadRows()) >= 60_000)
      assert.match((await broker.tidy()) ?? '', /vacuumed the jobs table \(\d+ dead rows\)/)
      await client.query('SELECT pg_stat_clear_snapshot()')
      assert.equal(await deadRows(), 0)
      assert.equal(await broker.tidy(), null, 'just vacuumed: not again')
    } finally {
      await broker.close()
      await client.query(`DROP SCHEMA ${s} CASCADE`)
      await client.end()
    }
  })
})

describe('postgres: vacuum from the settle path', () => {
  it('vacuums the jobs table in the background once its acks leave enough dead rows', async () => {
    const schema = postgresTestSchema()
    const broker = new PostgresBroker(postgresUrl(schema, 4))
    await broker.connect()
    const client = new pg.Client({ connectionString: postgresBaseUrl() })
    await client.connect()
    const s = `"${schema}"`
    const vacuumed = async () => {
      await client.query('SELECT pg_stat_clear_snapshot()')
      const { rows } = await client.query<{ v: Date | null }>(
        `SELECT last_vacuum AS v FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
        [schema],
      )
      return rows[0]!.v !== null
    }
    const drain = async (n: number) => {
      await client.query(
        `INSERT INTO ${s}.jobs (id, queue, body) SELECT 'j' || g || '-' || $1, 'q', '{}' FROM generate_series(1, $1) g`,
        [n],
      )
      for (let left = n; left > 0;) {
        const got = await broker.reserve(['q'], 1000, { leaseMs: 60_000 })
        assert.ok((await broker.ack(got)).every(Boolean))
        left -= got.length
      }
    }
    try {
      await client.query(`ALTER TABLE ${s}.jobs SET (autovacuum_enabled = false)`)
      // 60,000 settled jobs leave about 120,000 dead rows (the reserve's update and the ack's
      // delete); the server counts them within a second, then the next 25,000 acks look again.
      await drain(60_000)
      await new Promise((r) => setTimeout(r, 1500))
      await drain(25_000)
      const deadline = Date.now() + 20_000
      while (!(await vacuumed())) {
        assert.ok(Date.now() < deadline, 'no VACUUM from the settle path')
        await new Promise((r) => setTimeout(r, 100))
      }
    } finally {
      await broker.close()
      await client.query(`DROP SCHEMA ${s} CASCADE`)
      await client.end()
    }
  })
})
