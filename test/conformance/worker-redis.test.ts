/** The worker conformance suite on the Redis broker (REDIS_URL; a key prefix per test, deleted afterwards). */
import { after } from 'node:test'
import { redisUrls } from '../support/engine-urls.js'
import { workerConformance } from './worker-suite.js'

const engine = redisUrls()
after(() => engine.cleanup())
workerConformance({
  name: engine.name,
  url: () => engine.url(),
})
