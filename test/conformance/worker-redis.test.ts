/** The worker conformance suite on the Redis broker (REDIS_URL; a key prefix per test, deleted afterwards). */
import { after } from 'node:test'
import { redisUrls } from '../support/engine-urls.js'
import { workerConformance } from './worker-suite.js'

// A consumer blocked in BLPOP is woken only by a ready job: a delayed publish or a retry with a
// backoff does not shorten its wait, so the job runs at the end of it (up to 1 s late).
const lateDelayed = 'an idle worker is not woken when a delayed job comes due (runs up to 1 s late)'

const engine = redisUrls()
after(() => engine.cleanup())
workerConformance({
  name: engine.name,
  url: () => engine.url(),
  known: {
    'retries with backoff until success; after max retries, FAILURE and the job dead-lettered': lateDelayed,
    'honours countdown and eta, and runs a delayed job soon after its time': lateDelayed,
  },
})
