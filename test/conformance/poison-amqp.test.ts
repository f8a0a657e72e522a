/**
 * Poison-input conformance on RabbitMQ: messages published straight to the work queue (or the
 * delay cascade) with amqplib, past every producer check, and shapes only AMQP can carry: no
 * message id, a priority outside 0–9, a delivery count that is not a number. Results in Redis.
 * A second copy of a live id runs as well: RabbitMQ has no idempotent publish.
 */
import { randomUUID } from 'node:crypto'
import { after } from 'node:test'
import { connect, type Channel, type ChannelModel } from 'amqplib'
import type { AmqpBroker } from '../../src/brokers/amqp/broker.js'
import { send } from '../../src/brokers/amqp/message.js'
import { App } from '../../src/core/app.js'
import { redisUrls } from '../support/engine-urls.js'
import { amqpBaseUrl, amqpUrls } from './amqp-env.js'
import { poisonConformance, type EngineCase } from './poison-suite.js'

const amqp = amqpUrls()
const redis = redisUrls()
const url = amqp.url()
const queues: string[] = []
let app: App | null = null
let conn: ChannelModel | null = null
let ch: Channel | null = null
after(async () => {
  await conn?.close()
  await amqp.cleanup(queues)
  await redis.cleanup()
})

interface AmqpRaw {
  readonly body: string
  readonly messageId?: string
  readonly priority?: number
  readonly headers?: Record<string, unknown>
}

const marked = (name: string, make: (mark: string) => AmqpRaw): EngineCase => {
  const mark = `mark-${randomUUID().slice(0, 8)}`
  return { name, raw: make(mark), matches: (d) => d.body.includes(mark) }
}
const engineCases: EngineCase[] = [
  marked('no message id', (m) => ({ body: `{"v":1,"id":"${m}","task":"poison.add","args":[1,2]}` })),
  marked('a priority above 9', (m) => ({ messageId: m, body: `not json ${m}`, priority: 200 })),
  marked('a delivery count that is not a number', (m) => ({
    messageId: m,
    body: `[] ${m}`,
    headers: { 'celeriac-deliveries': 'many', 'celeriac-epoch': { nested: true } },
  })),
]

poisonConformance({
  name: 'amqp',
  app: (options) => {
    const results = redis.url()
    return (app = new App({ broker: url, resultBackend: results, coordination: results, ...options }))
  },
  writeRaw: async (queue, entries) => {
    queues.push(queue)
    const broker = (await app!.broker()) as AmqpBroker
    conn ??= await connect(amqpBaseUrl())
    ch ??= await conn.createConfirmChannel()
    const confirm = ch as import('amqplib').ConfirmChannel
    // The broker declares its delay cascade on the first delayed publish; these bypass it.
    await broker.topology.delays([queue])
    for (const e of entries) {
      if ('raw' in e) {
        const r = e.raw as AmqpRaw
        confirm.sendToQueue(broker.topology.work(queue), Buffer.from(r.body), {
          persistent: true,
          ...(r.messageId !== undefined ? { messageId: r.messageId } : {}),
          ...(r.priority !== undefined ? { priority: r.priority } : {}),
          headers: { 'celeriac-queue': queue, ...r.headers },
        })
      } else if (typeof e.body !== 'string') {
        confirm.sendToQueue(broker.topology.work(queue), Buffer.from(e.body), {
          persistent: true,
          messageId: e.id,
          priority: e.priority ?? 0,
          headers: { 'celeriac-queue': queue },
        })
      } else
        send(confirm, broker.topology, {
          id: e.id,
          queue,
          body: e.body,
          priority: e.priority ?? 0,
          delayMs: e.delayMs ?? 0,
          epoch: 0,
          deliveries: 0,
        })
    }
    await confirm.waitForConfirms()
  },
  engineCases,
  duplicateIds: 'runs',
})
