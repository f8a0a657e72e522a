/**
 * The broker conformance suite against RabbitMQ with quorum queues (`queue-type=quorum`):
 * replicated queues that count redeliveries themselves (`x-delivery-count`) and, on RabbitMQ
 * 3.10, have no priorities. Where that makes them differ from the contract is listed below.
 */
import { AmqpBroker, backend } from '../../src/brokers/amqp/index.js'
import type { Backend } from '../../src/contracts/backend.js'
import { amqpUrls } from './amqp-env.js'
import { brokerConformance } from './suite.js'

const urls = amqpUrls()
const url = urls.url('queue-type=quorum')
const backends: Backend[] = []

const RECOUNTED =
  'a released job is published again (so that the release is not counted): it goes to the back of the queue'
const NO_PRIORITIES = 'quorum queues have no priorities on RabbitMQ 3.10: delivered in publish order'

brokerConformance({
  name: 'amqp (quorum queues)',
  open: async () => {
    const be = backend(url)
    backends.push(be)
    await be.connect()
    return be.broker!
  },
  known: {
    'released jobs keep their place in line, whatever order they are released in': RECOUNTED,
    'delivers higher priority first, FIFO within a priority': NO_PRIORITIES,
    'a lapsed lease goes back to the front of its priority, ahead of jobs published after it': NO_PRIORITIES,
    'across several queues: higher priority first, then in the declared crossQueueOrder': NO_PRIORITIES,
  },
  cleanup: async () => {
    const used = new Set<string>()
    for (const be of backends) for (const q of (be.broker as AmqpBroker).topology.known) used.add(q)
    await urls.cleanup([...used])
  },
})
