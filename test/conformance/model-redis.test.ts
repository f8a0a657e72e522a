/** The model test on Redis (REDIS_URL): a key prefix per sequence, its keys deleted afterwards. */
import { after } from 'node:test'
import { RedisBroker } from '../../src/brokers/redis/index.js'
import { redisUrls } from '../support/engine-urls.js'
import { modelTest } from './model.js'

const urls = redisUrls()
after(() => urls.cleanup())

modelTest({
  name: 'redis',
  // The differences pinned by the broker suite (known entries in redis.test.ts): place in line of
  // released jobs, replay order, ties in due and failure times, repeats within one batch.
  known: 'Redis orders released jobs, replays and same-millisecond ties differently (see redis.test.ts)',
  open: async () => {
    const broker = new RedisBroker(urls.url())
    await broker.connect()
    return { broker, close: () => broker.close() }
  },
})
