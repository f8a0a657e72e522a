/**
 * RabbitMQ as a whole engine for end-to-end suites: an amqp:// broker (AMQP_URL) with names of
 * its own, and a Redis result backend (REDIS_URL) with a key prefix of its own, which is also the
 * coordination part (locks, run claims, rate limits). For worker and beat processes, the
 * environment that points them there; cleanup deletes the queues named and the keys.
 */
import { amqpUrls } from '../conformance/amqp-env.js'
import { deletePrefix, REDIS_BASE, withPrefix } from '../e2e/redis-helpers.js'

export interface AmqpEngine {
  readonly name: 'amqp'
  readonly broker: string
  readonly results: string
  /** CELERIAC_BROKER and CELERIAC_RESULT_BACKEND for child processes. */
  readonly env: Record<string, string>
  /** Deletes the queues (celeriac names, e.g. 'default') and every key of the result prefix. */
  cleanup(queues?: readonly string[]): Promise<void>
}

export function amqpEngine(tag: string): AmqpEngine {
  const amqp = amqpUrls()
  const broker = amqp.url()
  const { url: results, prefix } = withPrefix(REDIS_BASE, tag)
  return {
    name: 'amqp',
    broker,
    results,
    env: { CELERIAC_BROKER: broker, CELERIAC_RESULT_BACKEND: results },
    async cleanup(queues = ['default']) {
      await amqp.cleanup(queues)
      await deletePrefix(REDIS_BASE, prefix)
    },
  }
}
