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
      maxPriority: 9,
    })
  })

  it('reads max-priority: 9 by default, 0 for plain queues; refuses others and quorum with it', () => {
    assert.equal(parseAmqpUrl('amqp://h').maxPriority, 9)
    assert.equal(parseAmqpUrl('amqp://h?max-priority=0').maxPriority, 0)
    assert.equal(parseAmqpUrl('amqp://h?max-priority=5').url, 'amqp://h')
    assert.throws(
      () => parseAmqpUrl('amqp://h?max-priority=10'),
      /max-priority must be an integer from 0 to 9/,
    )
    assert.throws(() => parseAmqpUrl('amqp://h?max-priority=x'), BadUrlError)
    assert.throws(
      () => parseAmqpUrl('amqp://h?queue-type=quorum&max-priority=0'),
      /quorum queues have no priorities/,
    )
  })

  it("assumes RabbitMQ's default consumer_timeout; 0 turns hand-overs off", () => {
    assert.equal(parseAmqpUrl('amqp://h').consumerTimeoutMs, DEFAULT_CONSUMER_TIMEOUT_MS)
    assert.equal(parseAmqpUrl('amqp://h?consumer-timeout=0').consumerTimeoutMs, 0)
    assert.equal(parseAmqpUrl('amqp://h?consumer-timeout=3000').consumerTimeoutMs, 3000)
    assert.throws(() => parseAmqpUrl('amqp://h?consumer-timeout=soon'), BadUrlError)
  })
})
