/**
 * Failures kept longer than successes, on real result stores: a `celeriac worker` process with
 * CELERIAC_RESULT_EXPIRES=1h and CELERIAC_FAILURE_RESULT_EXPIRES=7d stores a SUCCESS that expires
 * in an hour and a FAILURE (dead-lettered) that expires in a week, on SQLite and on Redis (where
 * the key's own TTL says so too).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { createApp, type App } from 'celeriac'
import { resultKey } from '../../src/brokers/redis/keys.js'
import { run, tempDir, ROOT, type Proc } from './helpers.js'
import { REDIS_BASE, deletePrefix, withPrefix } from './redis-helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/dashboard-tasks.ts')
const HOUR = 3_600_000
const WEEK = 7 * 24 * HOUR

describe('failureResultExpires on real result stores', () => {
  const procs: Proc[] = []
  const apps: App[] = []
  const prefixes: string[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const a of apps) await a.close()
    for (const p of prefixes) await deletePrefix(REDIS_BASE, p)
  })

  async function sendBoth(url: string) {
    const app = createApp({ broker: url })
    apps.push(app)
    const worker = run(['-A', FIXTURE, 'worker', '--no-banner', '-c', '1'], {
      CELERIAC_BROKER: url,
      CELERIAC_RESULT_EXPIRES: String(HOUR),
      CELERIAC_FAILURE_RESULT_EXPIRES: String(WEEK),
    })
    procs.push(worker)
    const ok = await app.sendTask('echo', ['fine'])
    const bad = await app.sendTask('boom', ['kept longer'])
    assert.equal(await ok.get({ timeout: 30_000 }), 'fine')
    await assert.rejects(bad.get({ timeout: 30_000 }), /boom kept longer/)
    const [success, failure] = await (await app.resultStore())!.get([ok.id, bad.id])
    assert.equal(success?.state, 'SUCCESS')
    assert.equal(failure?.state, 'FAILURE')
    assert.equal(success.expiresAt! - success.doneAt!, HOUR, 'a success is kept for resultExpires')
    assert.equal(failure.expiresAt! - failure.doneAt!, WEEK, 'a failure is kept for failureResultExpires')
    // The worker stores the result before it moves the delivery to the dead letters: the
    // result can be seen a moment before the dead letter.
    const broker = await app.broker()
    let dead = await broker.listDead({ limit: 10, offset: 0 })
    for (let i = 0; i < 100 && !dead.some((d) => d.id === bad.id); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      dead = await broker.listDead({ limit: 10, offset: 0 })
    }
    assert.ok(
      dead.some((d) => d.id === bad.id),
      'the failure was dead-lettered',
    )
    worker.kill('SIGTERM')
    return { ok, bad }
  }

  it('SQLite', async () => {
    await sendBoth(`sqlite://${join(tempDir(), 'queue.db')}`)
  })

  it('Redis: the result keys expire at those times', async () => {
    const { url, prefix } = withPrefix(REDIS_BASE, 'failexp')
    prefixes.push(prefix)
    const { ok, bad } = await sendBoth(url)
    const redis = new Redis(REDIS_BASE.replace(/\?.*$/, ''), { maxRetriesPerRequest: 1 })
    try {
      const okTtl = await redis.pttl(resultKey(prefix, ok.id))
      const badTtl = await redis.pttl(resultKey(prefix, bad.id))
      assert.ok(okTtl > 0 && okTtl <= HOUR, `success key TTL ${okTtl} ms`)
      assert.ok(badTtl > WEEK - HOUR && badTtl <= WEEK, `failure key TTL ${badTtl} ms`)
    } finally {
      redis.disconnect()
    }
  })
})
