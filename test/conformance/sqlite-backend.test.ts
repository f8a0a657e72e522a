/** The sqlite:// backend: one connection for the URL, shared by its parts and closed by it. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  SqliteBroker,
  SqliteCoordination,
  SqliteResultStore,
  backend,
} from '../../src/brokers/sqlite/index.js'

const dir = mkdtempSync(join(tmpdir(), 'celeriac-backend-'))

describe('SQLite backend', () => {
  it('gives every part the one connection it opens, and closes it once', async () => {
    const b = backend(`sqlite://${join(dir, 'shared.db')}`)
    const broker = b.broker as SqliteBroker
    const results = b.results as SqliteResultStore
    const coordination = b.coordination as SqliteCoordination
    assert.equal(broker.database, results.database)
    assert.equal(broker.database, coordination.database)
    await b.connect()
    const heard: string[] = []
    await coordination.subscribe('ch', (m) => heard.push(m))
    await coordination.broadcast('ch', 'hello')
    for (let i = 0; i < 50 && !heard.length; i++) await new Promise((r) => setTimeout(r, 10))
    assert.deepEqual(heard, ['hello'], 'a subscriber on the shared connection hears its own process')
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
