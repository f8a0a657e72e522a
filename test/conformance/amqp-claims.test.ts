/**
 * Run claims on RabbitMQ (src/dedup), where a repeated id is stored twice: the claim of an id
 * belongs to the copy that took it first, whatever later deliveries of either copy look like.
 * RabbitMQ (AMQP_URL) with results and coordination on Redis (REDIS_URL), in-process workers.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { createApp } from '../../src/index.js'
import { Worker } from '../../src/worker/index.js'
import { redisUrls } from '../support/engine-urls.js'
import { amqpUrls } from './amqp-env.js'

const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`)
    await sleep(20)
  }
}

describe('run claims on RabbitMQ', () => {
  const amqp = amqpUrls()
  const redis = redisUrls()
  after(async () => {
    await amqp.cleanup(['default'])
    await redis.cleanup()
  })

  it('a second copy handed back at a warm shutdown, before its check, still does not run', async () => {
    const results = redis.url()
    const app = createApp({ broker: amqp.url(), resultBackend: results, coordination: results })
    let runs = 0
    const charge = app.task('charge', (_ctx, cents: number) => {
      runs++
      return cents
    })
    const slow = app.task('slow', async () => {
      await sleep(400)
      return 'slow'
    })
    const workers: Worker[] = []
    const worker = async (prefetch: number) => {
      const w = new Worker(app, {
        name: `claims-${workers.length}`,
        concurrency: 1,
        prefetch,
        logger: silent,
        shutdownGrace: 5000,
      })
      workers.push(w)
      await w.start()
      return w
    }
    try {
      const first = await charge.applyAsync([500], { id: 'charge-7' })
      const w1 = await worker(0)
      assert.equal(await first.get({ timeout: 10_000 }), 500)
      await w1.stop()

      // The slot busy with `slow`, the second copy waits in the prefetch; the warm shutdown gives
      // it back as a new message with a higher fence than the first copy ever had.
      const busy = await slow.delay()
      await charge.applyAsync([500], { id: 'charge-7' })
      const w2 = await worker(1)
      await until('one running, one buffered', () => w2.stats.running === 1 && w2.stats.buffered === 1)
      await w2.stop()
      assert.equal(await busy.get({ timeout: 1000 }), 'slow')
      const broker = await app.broker()
      const [back] = await broker.stats(['default'])
      assert.equal(back!.waiting, 1, 'the second copy is back in the queue')

      await worker(0)
      await until('the second copy settled', async () => {
        const [s] = await broker.stats(['default'])
        return s!.waiting + s!.delayed + s!.active === 0
      })
      await sleep(300)
      assert.equal(runs, 1, 'one run for the id')
      assert.equal(await first.get({ timeout: 1000 }), 500)
      assert.deepEqual(await broker.listDead(), [])
    } finally {
      await Promise.allSettled(workers.map((w) => w.stop({ grace: 0 })))
      await app.close()
    }
  })
})
