import { RedisResultStore } from '../../src/brokers/redis/index.js'
import { redisTestUrl } from './redis-env.js'
import { resultStoreConformance } from './results-suite.js'

const url = redisTestUrl()
resultStoreConformance({
  name: 'redis',
  open: async () => {
    const s = new RedisResultStore(url)
    await s.connect()
    return s
  },
})
