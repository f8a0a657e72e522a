/** The model test on Redis (REDIS_URL): a key prefix per sequence, its keys deleted afterwards. */
import { after } from 'node:test'
import { RedisBroker } from '../../src/brokers/redis/index.js'
import { redisUrls } from '../support/engine-urls.js'
import { modelTest } from './model.js'

const urls = redisUrls()
after(() => urls.cleanup())

modelTest({
  name: 'redis',
  open: async () => {
    const broker = new RedisBroker(urls.url())
    await broker.connect()
    return { broker, close: () => broker.close() }
  },
})
