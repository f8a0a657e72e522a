/** The broker conformance suite against a real Redis (see redis-env.ts for the URL and cleanup). */
import { RedisBroker } from '../../src/brokers/redis/index.js'
import { redisTestUrl } from './redis-env.js'
import { brokerConformance } from './suite.js'

const url = redisTestUrl()
brokerConformance({
  name: 'redis',
  open: async () => {
    const b = new RedisBroker(url)
    await b.connect()
    return b
  },
})
