/**
 * Transactional enqueue with a pg client: a task sent with { transaction: client } inside the
 * caller's BEGIN exists only if that transaction commits, together with the caller's own row.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { postgresBaseUrl, postgresTestSchema, postgresUrl } from '../../../test/conformance/postgres-env.js'
import { createApp } from '../../index.js'
import { Worker } from '../../worker/index.js'
import { createLogger } from '../../worker/logger.js'

const schema = postgresTestSchema()
const users = `"${schema}_app".users`

describe('postgres: transactional enqueue with a pg client', () => {
  const app = createApp({ broker: postgresUrl(schema, 3) })
  const welcomed: string[] = []
  const welcome = app.task('users.welcome', (_ctx, email: string) => {
    welcomed.push(email)
    return `welcomed ${email}`
  })
  const client = new pg.Client({ connectionString: postgresBaseUrl() })

  before(async () => {
    await client.connect()
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}_app"`)
    await client.query(`CREATE TABLE ${users} (email text PRIMARY KEY)`)
    // The broker's tables exist before the first send (the app connects on first use too).
    await app.broker()
  })
  after(async () => {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}_app" CASCADE`)
    await client.end()
    await app.close()
  })

  it('rolled back: neither the row nor the job ever existed', async () => {
    await client.query('BEGIN')
    await client.query(`INSERT INTO ${users} (email) VALUES ($1)`, ['ghost@example.com'])
    const sent = await welcome.applyAsync(['ghost@example.com'], { transaction: client })
    await client.query('ROLLBACK')
    const broker = await app.broker()
    const [stats] = await broker.stats([app.defaultQueue])
    assert.equal((stats?.waiting ?? 0) + (stats?.delayed ?? 0) + (stats?.active ?? 0), 0, 'no job stored')
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${users}`)
    assert.equal(rows[0].n, 0, 'no user stored')
    assert.equal(await sent.state(), 'PENDING')
  })

  it('committed: the row and the job commit together, and a worker runs the job', async () => {
    const worker = new Worker(app, { concurrency: 1, logger: createLogger({ level: 'silent' }) })
    await worker.start()
    try {
      await client.query('BEGIN')
      await client.query(`INSERT INTO ${users} (email) VALUES ($1)`, ['ada@example.com'])
      const sent = await welcome.applyAsync(['ada@example.com'], { transaction: client })
      // Not visible to anyone before the commit.
      const broker = await app.broker()
      const [before] = await broker.stats([app.defaultQueue])
      assert.equal(before?.waiting ?? 0, 0, 'invisible until commit')
      await client.query('COMMIT')
      assert.equal(await sent.get({ timeout: 10_000 }), 'welcomed ada@example.com')
      assert.deepEqual(welcomed, ['ada@example.com'])
      const { rows } = await client.query(`SELECT email FROM ${users}`)
      assert.deepEqual(rows, [{ email: 'ada@example.com' }])
    } finally {
      await worker.stop({ grace: 1000 })
    }
  })

  it('refuses a transaction object that cannot run statements', async () => {
    await assert.rejects(
      welcome.applyAsync(['x@example.com'], { transaction: {} }),
      /pg Client or PoolClient/,
    )
  })
})
