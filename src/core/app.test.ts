import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { backend as memoryBackend } from '../brokers/memory/index.js'
import { createApp } from '../index.js'
import { BadUrlError, ConfigError } from './errors.js'

describe('App connections', () => {
  it('configure() re-points URLs before the first connection, and refuses after it', async () => {
    const before = process.env.CELERIAC_BROKER
    const app = createApp({ broker: 'sqlite://./never-opened.db' })
    app.configure({ broker: `memory://${randomUUID()}` })
    assert.match(app.brokerUrl!, /^memory:/)
    assert.equal(process.env.CELERIAC_BROKER, before, 'the environment is untouched')
    await app.broker()
    assert.throws(() => app.configure({ broker: 'memory://other' }), ConfigError)
    await app.close()
  })

  it('takes every part of one URL from one backend: broker, results and coordination', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const [broker, results, coordination] = await Promise.all([
      app.broker(),
      app.resultStore(),
      app.coordination(),
    ])
    assert.equal(broker.scheme, 'memory')
    assert.equal(results?.scheme, 'memory')
    assert.equal(coordination?.scheme, 'memory')
    await app.close()
  })

  it('opens schemes an app adds with `backends`, and names the known ones for an unknown scheme', async () => {
    let built = 0
    const app = createApp({
      broker: 'mine://x',
      backends: { mine: async () => (url) => (built++, memoryBackend(`memory://${url}`)) },
    })
    assert.equal((await app.broker()).scheme, 'memory')
    assert.equal(built, 1)
    await app.close()
    const bad = createApp({ broker: 'nope://x' })
    await assert.rejects(bad.broker(), (err: unknown) => {
      assert.ok(err instanceof BadUrlError)
      assert.match(err.message, /unknown scheme "nope".*sqlite:\/\//)
      return true
    })
  })

  it('refuses a send inside a transaction on a broker without transactionalPublish', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const t = app.task('t', () => 1)
    await assert.rejects(t.applyAsync([], { transaction: {} }), /cannot enqueue inside your transaction/)
    const broker = await app.broker()
    assert.equal((await broker.stats())[0]?.waiting ?? 0, 0, 'nothing was published')
    await app.close()
  })

  it('checks task options once, when the task is defined', () => {
    const app = createApp({ broker: 'memory://' })
    assert.throws(() => app.task('a', () => 1, { retries: -1 }), /retries must be a whole number/)
    assert.throws(() => app.task('b', () => 1, { timeLimit: 'soon' }), /task "b": timeLimit/)
    assert.throws(
      () => app.task('c', () => 1, { retries: { max: 2, backoff: 'sideways' as 'fixed' } }),
      /retries.backoff/,
    )
  })
})
