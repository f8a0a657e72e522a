/**
 * RabbitMQ connections cut under load, from the server side (`rabbitmqctl close_connection` of
 * one named connection: nothing else on the server is touched). A worker whose connection is cut
 * gets its unacknowledged deliveries redelivered (to anyone), reconnects and consumes again by
 * itself; a publisher whose connection is cut fails the sends in flight and sends again once it
 * is back. Every send that resolved (its publish was confirmed) must end in SUCCESS.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { createApp, type App, type AsyncResult } from '../../src/index.js'
import { Worker } from '../../src/worker/index.js'
import { redisUrls } from '../support/engine-urls.js'
import { cutConnection } from '../support/cut-connection.js'
import { amqpUrls } from './amqp-env.js'

const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('RabbitMQ connections cut under load', () => {
  const amqp = amqpUrls()
  const redis = redisUrls()
  const apps: App[] = []
  const workers: Worker[] = []
  after(async () => {
    await Promise.allSettled(workers.map((w) => w.stop({ grace: 0 })))
    await Promise.allSettled(apps.map((a) => a.close()))
    await amqp.cleanup(['default'])
    await redis.cleanup()
  })

  it('workers and a publisher resume by themselves; every confirmed send succeeds', async () => {
    const [brokerUrl, resultUrl] = [amqp.url(), redis.url()]
    const app = () => {
      const a = createApp({ broker: brokerUrl, resultBackend: resultUrl })
      apps.push(a)
      return a
    }
    const runs = new Map<string, number>()
    const define = (a: App) =>
      a.task('work', async (ctx, i: number) => {
        runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1)
        await sleep(5)
        return i
      })
    const producer = app()
    const work = define(producer)
    for (let k = 0; k < 2; k++) {
      const a = app()
      define(a)
      const w = new Worker(a, { name: `cut-${k}@test`, concurrency: 4, prefetch: 4, logger: silent })
      workers.push(w)
      await w.start()
    }
    const [victim] = workers

    const confirmed: AsyncResult<number>[] = []
    let sending = true
    const sender = (async () => {
      for (let i = 0; sending; i++) {
        try {
          confirmed.push(
            ...(await work.sendMany(Array.from({ length: 20 }, (_, j) => [i * 20 + j] as [number]))),
          )
        } catch {
          // The connection was away: nothing was confirmed; a caller would send again.
        }
        await sleep(20)
      }
    })()

    await sleep(500)
    await cutConnection(await victim!.app.broker())
    const victimBefore = victim!.stats.succeeded
    await cutConnection(await producer.broker())
    await sleep(1500)
    sending = false
    await sender

    const values = await Promise.all(confirmed.map((r) => r.get({ timeout: 30_000 })))
    assert.equal(values.length, confirmed.length, 'every confirmed send ran')
    assert.ok(confirmed.length >= 200, `${confirmed.length} confirmed sends`)
    assert.ok(victim!.stats.succeeded > victimBefore, 'the cut worker consumes again')
    const twice = [...runs.values()].filter((n) => n > 1).length
    // At least once: only deliveries the cut worker held unacknowledged may run twice: those
    // running or buffered (concurrency + prefetch = 8) and those finished whose acks were not
    // sent yet, which the worker lets grow to SETTLE_WINDOW (4) times that before it stops
    // receiving: 8 + 32.
    assert.ok(twice <= 40, `${twice} ran twice (at most the victim's unacknowledged deliveries)`)
  })
})
