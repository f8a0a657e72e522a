/**
 * Transactional enqueue with a better-sqlite3 connection of the caller's own on the broker file:
 * a task sent with { transaction: db } inside the caller's BEGIN exists only if that transaction
 * commits, together with the caller's own row.
 *
 * `db.transaction(fn)` cannot hold an await, and sending is asynchronous, so the supported
 * pattern is an explicit BEGIN IMMEDIATE ... COMMIT / ROLLBACK around the await.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type BetterSqlite3 from 'better-sqlite3'
import { ConfigError } from '../../core/errors.js'
import { createApp } from '../../index.js'
import { Worker } from '../../worker/index.js'
import { createLogger } from '../../worker/logger.js'

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
const dir = mkdtempSync(join(tmpdir(), 'celeriac-sqlite-tx-'))
const file = join(dir, 'app.db')

describe('sqlite: transactional enqueue with a better-sqlite3 connection', () => {
  const app = createApp({ broker: `sqlite://${file}` })
  const welcomed: string[] = []
  const welcome = app.task('users.welcome', (_ctx, email: string) => {
    welcomed.push(email)
    return `welcomed ${email}`
  })
  let db: BetterSqlite3.Database

  const waiting = async () => {
    const [stats] = await (await app.broker()).stats([app.defaultQueue])
    return (stats?.waiting ?? 0) + (stats?.delayed ?? 0) + (stats?.active ?? 0)
  }
  const users = () => db.prepare('SELECT email FROM users ORDER BY email').pluck().all()

  before(async () => {
    // The broker's tables exist before the first send (the app connects on first use too).
    await app.broker()
    db = new Database(file, { timeout: 5000 })
    db.exec('CREATE TABLE users (email TEXT PRIMARY KEY)')
  })
  after(async () => {
    db.close()
    await app.close()
  })

  it('rolled back: neither the row nor the job ever existed', async () => {
    db.exec('BEGIN IMMEDIATE')
    db.prepare('INSERT INTO users (email) VALUES (?)').run('ghost@example.com')
    const sent = await welcome.applyAsync(['ghost@example.com'], { transaction: db })
    db.exec('ROLLBACK')
    assert.equal(await waiting(), 0, 'no job stored')
    assert.deepEqual(users(), [], 'no user stored')
    assert.equal(await sent.state(), 'PENDING')
  })

  it('committed: the row and the job commit together, and a worker runs the job', async () => {
    const worker = new Worker(app, { concurrency: 1, logger: createLogger({ level: 'silent' }) })
    await worker.start()
    try {
      db.exec('BEGIN IMMEDIATE')
      db.prepare('INSERT INTO users (email) VALUES (?)').run('ada@example.com')
      const sent = await welcome.applyAsync(['ada@example.com'], { transaction: db })
      assert.equal(await waiting(), 0, 'invisible to the broker until the commit')
      db.exec('COMMIT')
      assert.equal(await sent.get({ timeout: 10_000 }), 'welcomed ada@example.com')
      assert.deepEqual(welcomed, ['ada@example.com'])
      assert.deepEqual(users(), ['ada@example.com'])
    } finally {
      await worker.stop({ grace: 1000 })
    }
  })

  it('refuses a connection on another file, and enqueues nothing', async () => {
    const other = new Database(join(dir, 'other.db'))
    try {
      other.exec('BEGIN IMMEDIATE')
      await assert.rejects(welcome.applyAsync(['x@example.com'], { transaction: other }), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.match(err.message, /other\.db, not on the broker file .*app\.db/)
        return true
      })
      other.exec('ROLLBACK')
      assert.equal(await waiting(), 0, 'nothing enqueued')
      assert.equal(
        other.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'celeriac_jobs'").pluck().get(),
        0,
        'nothing written to the other file',
      )
    } finally {
      other.close()
    }
  })

  it('refuses a connection that is not inside a transaction, an in-memory one, or not a connection', async () => {
    await assert.rejects(
      welcome.applyAsync(['x@example.com'], { transaction: db }),
      /not inside a transaction .*BEGIN IMMEDIATE/,
    )
    const memory = new Database(':memory:')
    memory.exec('BEGIN')
    await assert.rejects(
      welcome.applyAsync(['x@example.com'], { transaction: memory }),
      /in-memory database, not the broker file/,
    )
    memory.close()
    await assert.rejects(
      welcome.applyAsync(['x@example.com'], { transaction: {} }),
      /takes a better-sqlite3 Database/,
    )
    assert.equal(await waiting(), 0, 'nothing enqueued')
  })
})
