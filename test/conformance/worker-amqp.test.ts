/**
 * The worker conformance suite on the RabbitMQ broker (AMQP_URL; a name prefix per test, its
 * queues deleted afterwards), with results in Redis (REDIS_URL): RabbitMQ stores no results.
 */
import { after } from 'node:test'
import { redisUrls } from '../support/engine-urls.js'
import { amqpUrls } from './amqp-env.js'
import { workerConformance } from './worker-suite.js'

const amqp = amqpUrls()
const redis = redisUrls()
after(async () => {
  await amqp.cleanup(['default', 'celeriac', 'a', 'b', 'fast', 'slow'])
  await redis.cleanup()
})
workerConformance({
  name: 'amqp',
  url: () => amqp.url(),
  appOptions: () => {
    const url = redis.url()
    return { resultBackend: url, coordination: url }
  },
})
