/** The sqlite:// backend: one connection for the URL, shared by its parts and closed by it. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { SqliteBroker, SqliteResultStore, backend } from '../../src/brokers/sqlite/index.js'

const dir = mkdtempSync(join(tmpdir(), 'celeriac-backend-'))

describe('SQLite backend', () => {
  it('gives every part the one connection it opens, and closes it once', async () => {
    const b = backend(`sqlite://${join(dir, 'shared.db')}`)
    const broker = b.broker as SqliteBroker
    const results = b.results as SqliteResultStore
    assert.equal(broker.database, results.database)
    await b.connect()
    assert.ok(broker.database.isOpen)
    const id = randomUUID()
    await broker.publish([{ id, queue: 'q', body: 'x', priority: 0 }])
    await results.set([
      {
        id,
        state: 'STARTED',
        task: null,
        result: null,
        error: null,
        retries: 0,
        worker: null,
        startedAt: 1,
        doneAt: null,
        updatedAt: 1,
        expiresAt: null,
        fence: 1,
      },
    ])
    assert.equal((await results.get([id]))[0]!.state, 'STARTED')
    await b.close()
    assert.equal(broker.database.isOpen, false)
    await assert.rejects(
      broker.publish([{ id: randomUUID(), queue: 'q', body: 'x', priority: 0 }]),
      /not connected/,
    )
  })

  it('gives standalone parts a connection each', async () => {
    const file = join(dir, 'own.db')
    const a = new SqliteBroker(file)
    const c = new SqliteBroker(file)
    await Promise.all([a.connect(), c.connect()])
    assert.notEqual(a.database, c.database)
    assert.notEqual(a.database.db, c.database.db)
    await a.close()
    assert.equal(c.database.isOpen, true, 'closing one leaves the other open')
    assert.deepEqual(await c.stats(['nothing']).then((s) => s.length), 1)
    await c.close()
  })
})
