/**
 * Transactional enqueue with postgres.js (`sql.begin`) and with Kysely (`db.transaction()`): the
 * job commits with the caller's row or not at all; a worker runs the committed one.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import postgres from 'postgres'
import { postgresBaseUrl, postgresTestSchema, postgresUrl } from '../../../test/conformance/postgres-env.js'
import { createApp } from '../../index.js'
import { Worker } from '../../worker/index.js'
import { createLogger } from '../../worker/logger.js'

const schema = postgresTestSchema()
const appSchema = `${schema}_app`
const users = `"${appSchema}".users`

interface Tables {
  users: { email: string }
}

describe('postgres: transactional enqueue with postgres.js and Kysely', () => {
  const app = createApp({ broker: postgresUrl(schema, 3) })
  const welcomed: string[] = []
  const welcome = app.task('users.welcome', (_ctx, email: string) => {
    welcomed.push(email)
    return `welcomed ${email}`
  })
  const sql = postgres(postgresBaseUrl(), { max: 2, onnotice: () => {} })
  const pool = new pg.Pool({ connectionString: postgresBaseUrl(), max: 2 })
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) }).withSchema(appSchema)
  const worker = new Worker(app, { concurrency: 2, logger: createLogger({ level: 'silent' }) })

  const waiting = async (): Promise<number> => {
    const [stats] = await (await app.broker()).stats([app.defaultQueue])
    return (stats?.waiting ?? 0) + (stats?.delayed ?? 0) + (stats?.active ?? 0)
  }
  const stored = async (email: string): Promise<boolean> =>
    (await sql.unsafe(`SELECT 1 FROM ${users} WHERE email = $1`, [email])).length === 1

  before(async () => {
    await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${appSchema}"`)
    await sql.unsafe(`CREATE TABLE ${users} (email text PRIMARY KEY)`)
    await app.broker()
  })
  after(async () => {
    await worker.stop({ grace: 1000 })
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${appSchema}" CASCADE`)
    await sql.end()
    await db.destroy()
    await app.close()
  })

  it('postgres.js: rolled back, neither the row nor the job exists', async () => {
    const boom = new Error('rolled back on purpose')
    let id = ''
    await assert.rejects(
      sql.begin(async (tx) => {
        await tx.unsafe(`INSERT INTO ${users} (email) VALUES ($1)`, ['ghost.js@example.com'])
        id = (await welcome.applyAsync(['ghost.js@example.com'], { transaction: tx })).id
        throw boom
      }),
      boom,
    )
    assert.ok(id, 'the send returned an id inside the transaction')
    assert.equal(await waiting(), 0, 'no job stored')
    assert.equal(await stored('ghost.js@example.com'), false, 'no user stored')
  })

  it('Kysely: rolled back, neither the row nor the job exists', async () => {
    const boom = new Error('rolled back on purpose')
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values({ email: 'ghost.ky@example.com' }).execute()
        await welcome.applyAsync(['ghost.ky@example.com'], { transaction: trx })
        throw boom
      }),
      boom,
    )
    assert.equal(await waiting(), 0, 'no job stored')
    assert.equal(await stored('ghost.ky@example.com'), false, 'no user stored')
  })

  it('both: committed, the row and the job commit together and a worker runs the job', async () => {
    const viaJs = await sql.begin(async (tx) => {
      await tx.unsafe(`INSERT INTO ${users} (email) VALUES ($1)`, ['js@example.com'])
      const sent = await welcome.applyAsync(['js@example.com'], { transaction: tx })
      assert.equal(await waiting(), 0, 'invisible until commit')
      return sent
    })
    const viaKysely = await db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values({ email: 'ky@example.com' }).execute()
      const sent = await welcome.applyAsync(['ky@example.com'], { transaction: trx })
      assert.equal(await waiting(), 1, 'only the committed postgres.js job is visible')
      return sent
    })
    await worker.start()
    assert.equal(await viaJs.get({ timeout: 10_000 }), 'welcomed js@example.com')
    assert.equal(await viaKysely.get({ timeout: 10_000 }), 'welcomed ky@example.com')
    assert.deepEqual(welcomed.sort(), ['js@example.com', 'ky@example.com'])
    assert.equal(await stored('js@example.com'), true)
    assert.equal(await stored('ky@example.com'), true)
  })

  it('refuses a client outside a transaction, naming what to pass', async () => {
    await assert.rejects(welcome.applyAsync(['x@example.com'], { transaction: sql }), /sql\.begin/)
    await assert.rejects(
      welcome.applyAsync(['x@example.com'], { transaction: db }),
      /Kysely instance that is not a transaction/,
    )
    await assert.rejects(welcome.applyAsync(['x@example.com'], { transaction: 42 }), /postgres\.js/)
    assert.equal(await waiting(), 0)
  })
})
