/**
 * `max-priority=0`: celeriac's RabbitMQ work queues declared as plain classic queues (no
 * `x-max-priority`), which RabbitMQ serves faster; tasks of any priority run, in publish order.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { connect } from 'amqplib'
import { pino } from 'pino'
import { createApp } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { amqpBaseUrl, amqpUrls } from '../conformance/amqp-env.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

describe('RabbitMQ plain queues (max-priority=0)', () => {
  const amqp = amqpUrls()
  const { url: results, prefix } = withPrefix(REDIS_BASE, 'amqp-plain')
  after(async () => {
    await amqp.cleanup(['default'])
    await deletePrefix(REDIS_BASE, prefix)
  })

  it('declares the work queue without priorities and runs every task', async () => {
    const broker = amqp.url('max-priority=0')
    const app = createApp({ broker, resultBackend: results })
    const add = app.task('add', (_ctx, a: number, b: number) => a + b)
    const worker = new Worker(app, { concurrency: 4, logger: pino({ level: 'silent' }) })
    await worker.start()
    try {
      const sent = await Promise.all(
        Array.from({ length: 20 }, (_, i) => add.applyAsync([i, 1], { priority: i % 10 })),
      )
      assert.deepEqual(
        await Promise.all(sent.map((r) => r.get({ timeout: 10_000 }))),
        Array.from({ length: 20 }, (_, i) => i + 1),
      )
    } finally {
      await worker.stop()
      await app.close()
    }
    // A plain declaration of the same queue is accepted only if it was declared without
    // x-max-priority (RabbitMQ refuses a declaration whose arguments differ).
    const queue = `${new URL(broker).searchParams.get('prefix')}.default`
    const conn = await connect(amqpBaseUrl())
    try {
      const ch = await conn.createChannel()
      const ok = await ch.assertQueue(queue, { durable: true })
      assert.equal(ok.queue, queue)
    } finally {
      await conn.close()
    }
  })
})
