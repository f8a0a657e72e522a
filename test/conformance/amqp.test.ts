/**
 * The broker conformance suite against a real RabbitMQ (AMQP_URL): every client on one name
 * prefix, as separate processes on one vhost would be; the queues the tests used are deleted
 * afterwards. Tests that need timed leases, reserve or idempotent publish are skipped by the
 * suite on the broker's flags; the entries below are where RabbitMQ differs from the contract.
 */
import { AmqpBroker, backend } from '../../src/brokers/amqp/index.js'
import type { Backend } from '../../src/contracts/backend.js'
import { amqpUrls } from './amqp-env.js'
import { brokerConformance } from './suite.js'

const urls = amqpUrls()
const url = urls.url()
const used = new Set<string>()
const backends: Backend[] = []

const RECOUNTED =
  'a redelivered or released job is published again (that is how its deliveries are counted): it goes to the back of its priority'

brokerConformance({
  name: 'amqp',
  open: async () => {
    const be = backend(url)
    backends.push(be)
    await be.connect()
    return be.broker!
  },
  known: {
    'a lapsed lease goes back to the front of its priority, ahead of jobs published after it': RECOUNTED,
    'released jobs keep their place in line, whatever order they are released in': RECOUNTED,
  },
  cleanup: async () => {
    for (const be of backends) for (const q of (be.broker as AmqpBroker).topology.known) used.add(q)
    await urls.cleanup([...used])
  },
})
