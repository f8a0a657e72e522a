/**
 * The pool's operations for remote control, in a worker run by the test: `terminate(id)` kills
 * the child running a task and replaces it (for `revoke --terminate`); `grow`/`shrink` change
 * how many children it keeps (for `control pool-grow/pool-shrink`).
 */
import assert from 'node:assert/strict'
import { join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { createPool } from 'celeriac/pool'
import { createLogger, Worker } from 'celeriac/worker'
import { app } from '../fixtures/pool-tasks.js'
import { ROOT, tempDir, until } from './helpers.js'

const POOL_FIXTURE = resolve(ROOT, 'test/fixtures/pool-tasks.ts')

describe('pool control', () => {
  const url = `sqlite://${join(tempDir('celeriac-pool-control-'), 'queue.db')}`
  app.configure({ broker: url })
  const log = createLogger({ level: 'silent' })
  const pool = createPool({ kind: 'threads', size: 1, app: POOL_FIXTURE, connections: { broker: url }, log })
  const worker = new Worker(app, { concurrency: 2, pool, logger: log })
  after(async () => {
    await worker.stop({ grace: 0 })
    await app.close()
  })

  it('terminate(id) ends the run with the reason given and replaces the child', async () => {
    await worker.start()
    const [first] = pool.children()
    const sleeping = await app.sendTask('sleep', [60_000])
    await until(() => pool.children().some((c) => c.job === sleeping.id), 20_000, 'the run to start')
    assert.equal(pool.terminate('no-such-task'), false)
    assert.equal(pool.terminate(sleeping.id, new Error('revoked by the operator')), true)
    await assert.rejects(sleeping.get({ timeout: 20_000 }), { message: 'revoked by the operator' })
    assert.equal(await sleeping.state(), 'FAILURE')
    await until(() => pool.children().length === 1, 20_000, 'a replacement')
    assert.notEqual(pool.children()[0]!.threadId, first!.threadId)
    assert.deepEqual(await (await app.sendTask('noop')).get({ timeout: 20_000 }), null)
  })

  it('grow and shrink change the children kept', async () => {
    assert.equal(pool.grow(2), 3)
    await until(() => pool.children().length === 3, 20_000, 'three children')
    assert.equal(pool.shrink(5), 1, 'at least one child is kept')
    await until(() => pool.children().length === 1, 20_000, 'one child')
    assert.throws(() => pool.grow(0), /positive integer/)
  })
})
