import type { Coordination } from '../../src/contracts/coordination.js'
import { RedisCoordination } from '../../src/brokers/redis/index.js'
import { coordinationConformance } from './coordination-suite.js'
import { redisTestUrl } from './redis-env.js'

const url = redisTestUrl()
coordinationConformance({
  name: 'redis',
  open: async () => {
    const c: Coordination = new RedisCoordination(url)
    await c.connect()
    return c
  },
})
