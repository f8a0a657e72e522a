/**
 * `celery+redis://[user:password@]host[:port][/db][?visibility_timeout=seconds]`: a broker and
 * result store that speak Celery's message protocol v2 on kombu's Redis layout and Celery's
 * Redis result format, so celeriac and Python Celery send each other tasks and read each
 * other's results (README, "Working with Python Celery"). Coordination (revokes, events, locks)
 * is celeriac's own, on the same server under the `celeriac` prefix.
 */
import { composeBackend, type BackendFactory } from '../contracts/backend.js'
import { RedisCoordination } from '../brokers/redis/coordination.js'
import { RedisConnection } from '../brokers/redis/shared.js'
import { CeleryRedisBroker } from './broker.js'
import { parseCeleryRedisUrl } from './layout.js'
import { CeleryRedisResultStore } from './results.js'

export { CeleryRedisBroker } from './broker.js'
export { CeleryRedisResultStore, metaKey } from './results.js'
export { parseCeleryRedisUrl } from './layout.js'

export const backend: BackendFactory = (url) => {
  const { redisUrl, visibilityTimeout } = parseCeleryRedisUrl(url)
  const conn = new RedisConnection(redisUrl)
  return composeBackend(
    'celery+redis',
    {
      broker: new CeleryRedisBroker(conn, visibilityTimeout),
      results: new CeleryRedisResultStore(conn),
      coordination: new RedisCoordination(conn),
    },
    conn,
  )
}
