/** Flow control with real worker processes on RabbitMQ, results and coordination on Redis (see flow-suite.ts). */
import { amqpEngine } from '../support/amqp-engine.js'
import { flowSuite } from './flow-suite.js'

const amqp = amqpEngine('flow-amqp')
flowSuite({
  name: 'amqp (results and coordination on redis)',
  url: amqp.broker,
  results: amqp.results,
  skip: {
    'a 10-job tenant is not held up behind a 10,000-job tenant':
      'a backlog of 10,000 jobs, each deferred through the delay queues, is too heavy for a shared RabbitMQ',
  },
  cleanup: () => amqp.cleanup(),
})
