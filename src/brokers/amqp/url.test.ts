import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BadUrlError } from '../../core/errors.js'
import { DEFAULT_CONSUMER_TIMEOUT_MS, parseAmqpUrl } from './url.js'

describe('parseAmqpUrl', () => {
  it("takes celeriac's options out of the URL amqplib sees", () => {
    const t = parseAmqpUrl('amqp://u:p@h:5672/v?queue-type=quorum&prefix=x&consumer-timeout=5m&heartbeat=10')
    assert.deepEqual(t, {
      url: 'amqp://u:p@h:5672/v?heartbeat=10',
      queueType: 'quorum',
      prefix: 'x.',
      consumerTimeoutMs: 300_000,
    })
  })

  it("assumes RabbitMQ's default consumer_timeout; 0 turns hand-overs off", () => {
    assert.equal(parseAmqpUrl('amqp://h').consumerTimeoutMs, DEFAULT_CONSUMER_TIMEOUT_MS)
    assert.equal(parseAmqpUrl('amqp://h?consumer-timeout=0').consumerTimeoutMs, 0)
    assert.equal(parseAmqpUrl('amqp://h?consumer-timeout=3000').consumerTimeoutMs, 3000)
    assert.throws(() => parseAmqpUrl('amqp://h?consumer-timeout=soon'), BadUrlError)
  })
})
