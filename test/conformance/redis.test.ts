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
  // Known gaps, run as todo until the Redis broker is changed (then remove the entry).
  known: {
    'released jobs keep their place in line, whatever order they are released in':
      'release LPUSHes each job to the front: jobs come back in reverse release order, not their own',
    'delayed jobs that come due together become ready in the order they were sent':
      'equal due times in the delayed sorted set are promoted in member (id) order',
    'replay puts jobs back in the order they failed, whatever the order of the ids':
      'replayDead moves entries in the order of the ids given',
    'a repeated id in one batch is stored once, the first, even at another priority':
      'publish keeps the job of the lowest priority (batches grouped by priority?), not the first',
    'a ref repeated in one batch: the first entry applies, the later ones are stale':
      'release answers true for the last occurrence of a repeated ref, not the first',
    'dead letters of one batch count as failed in batch order: listed, pruned and replayed so':
      'entries dead-lettered in the same millisecond are ordered by id (sorted-set member order)',
  },
})
