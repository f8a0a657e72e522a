/**
 * How long records are kept: failureResultExpires (app, task, $CELERIAC_FAILURE_RESULT_EXPIRES)
 * for FAILURE records, resultExpires for every other state.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Delivery } from '../contracts/broker.js'
import { createApp, type App } from '../index.js'
import type { Message } from '../core/message.js'
import { keepMs, makeRecord } from './records.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

describe('result expiry per state', () => {
  const apps: App[] = []
  const open = (opts: Parameters<typeof createApp>[0]) => {
    const app = createApp({ broker: 'memory://records-test', ...opts })
    apps.push(app)
    return app
  }
  after(async () => {
    for (const a of apps) await a.close()
  })

  it('keeps failures as long as other results when no failure expiry is set', () => {
    const app = open({ resultExpires: '2h' })
    app.task('plain', () => 1)
    app.task('short', () => 1, { resultExpires: '10m' })
    assert.equal(app.failureResultExpiresMs, null)
    assert.equal(keepMs(app, 'plain', 'FAILURE'), 2 * HOUR)
    assert.equal(keepMs(app, 'short', 'FAILURE'), 600_000, "the task's own resultExpires")
    assert.equal(keepMs(app, 'unknown', 'SUCCESS'), 2 * HOUR)
  })

  it('keeps FAILURE records for failureResultExpires, other states for resultExpires', () => {
    const app = open({ resultExpires: '1d', failureResultExpires: '7d' })
    app.task('plain', () => 1)
    app.task('own', () => 1, { resultExpires: '1h', failureResultExpires: '30d' })
    app.task('shortOnly', () => 1, { resultExpires: '1h' })
    for (const state of ['SUCCESS', 'REVOKED', 'RETRY', 'STARTED'] as const)
      assert.equal(keepMs(app, 'plain', state), DAY, state)
    assert.equal(keepMs(app, 'plain', 'FAILURE'), 7 * DAY)
    assert.equal(keepMs(app, 'unknown', 'FAILURE'), 7 * DAY, 'a task this process does not know')
    assert.equal(keepMs(app, 'own', 'SUCCESS'), HOUR)
    assert.equal(keepMs(app, 'own', 'FAILURE'), 30 * DAY)
    assert.equal(keepMs(app, 'shortOnly', 'FAILURE'), 7 * DAY, "the app's failure expiry still applies")
  })

  it('writes the expiry into the record; 0 keeps failures for ever', () => {
    const msg = { id: 'r1', task: 'plain', retries: 0 } as unknown as Message
    const delivery = { fence: 1 } as unknown as Delivery
    const app = open({ resultExpires: '1h', failureResultExpires: 0 })
    const env = { app, worker: 'w1' }
    const ok = makeRecord(env, msg, delivery, 'SUCCESS', null, { result: '1' })
    assert.equal(ok.expiresAt! - ok.doneAt!, HOUR)
    const failed = makeRecord(env, msg, delivery, 'FAILURE', null, { error: new Error('x') })
    assert.equal(failed.expiresAt, null)
    const app2 = open({ resultExpires: '1h', failureResultExpires: '3d' })
    const failed2 = makeRecord({ app: app2, worker: 'w1' }, msg, delivery, 'FAILURE', null, {
      error: new Error('x'),
    })
    assert.equal(failed2.expiresAt! - failed2.doneAt!, 3 * DAY)
  })

  it('reads $CELERIAC_FAILURE_RESULT_EXPIRES (ms) and checks the option', () => {
    const before = process.env.CELERIAC_FAILURE_RESULT_EXPIRES
    process.env.CELERIAC_FAILURE_RESULT_EXPIRES = String(5 * DAY)
    try {
      assert.equal(open({}).failureResultExpiresMs, 5 * DAY)
      assert.equal(open({ failureResultExpires: '2d' }).failureResultExpiresMs, 2 * DAY, 'code wins')
    } finally {
      if (before === undefined) delete process.env.CELERIAC_FAILURE_RESULT_EXPIRES
      else process.env.CELERIAC_FAILURE_RESULT_EXPIRES = before
    }
    assert.throws(() => open({ failureResultExpires: 'soon' }), /failureResultExpires/)
    const app = open({})
    assert.throws(() => app.task('bad', () => 1, { failureResultExpires: 'soon' }), /failureResultExpires/)
  })
})
