/**
 * RabbitMQ for tests (AMQP_URL, else amqp://guest:guest@127.0.0.1:5672): a URL with a fresh name
 * prefix per call, and a cleanup that deletes the queues and exchanges of those prefixes. AMQP
 * cannot list queues, so cleanup deletes the names a prefix can have for the queues a test used.
 */
import { randomUUID } from 'node:crypto'
import { connect } from 'amqplib'
import { LEVELS } from '../../src/brokers/amqp/delays.js'

export function amqpBaseUrl(): string {
  return process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
}

export interface AmqpUrls {
  /** A URL whose names no other test uses. */
  url(extra?: string): string
  /** Deletes every queue and exchange of the URLs handed out, for the queues named. */
  cleanup(queues: readonly string[]): Promise<void>
}

export function amqpUrls(): AmqpUrls {
  const base = amqpBaseUrl()
  const prefixes: string[] = []
  return {
    url(extra = '') {
      const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
      prefixes.push(prefix)
      return `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}${extra ? `&${extra}` : ''}`
    },
    async cleanup(queues) {
      const conn = await connect(base)
      const ch = await conn.createChannel()
      try {
        for (const p of prefixes.splice(0)) {
          for (const q of queues) {
            const work = `${p}.${q}`
            await ch.deleteQueue(work)
            await ch.deleteQueue(`${work}.dead`)
            await ch.deleteQueue(`${work}.paused`)
            for (let k = 0; k < LEVELS; k++) await ch.deleteQueue(`${work}.delay.${k}`)
          }
          await ch.deleteExchange(`${p}.celeriac.delay.ready`)
          for (let k = 0; k < LEVELS; k++) await ch.deleteExchange(`${p}.celeriac.delay.${k}`)
        }
      } finally {
        await conn.close()
      }
    },
  }
}
