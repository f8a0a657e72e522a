/**
 * `redis://[user:password@]host[:port][/db][?prefix=name]` and `rediss://` (TLS), plus
 * `redis+cluster://host:port,…` and `redis+sentinel://host:port,…/<primary>[/db]` (README.md):
 * broker, result store and coordination on Redis, through ioredis (an optional peer dependency,
 * imported on connect).
 */
import { composeBackend, type BackendFactory } from '../../contracts/backend.js'
import { RedisBroker } from './broker.js'
import { RedisCoordination } from './coordination.js'
import { RedisResultStore } from './results.js'
import { RedisConnection } from './shared.js'

export { RedisBroker, type RedisBrokerOptions } from './broker.js'
export { RedisCoordination } from './coordination.js'
export { RedisResultStore } from './results.js'
export { RedisConnection } from './shared.js'

/** One URL's parts on one set of connections, opened by the backend's connect and closed once. */
export const backend: BackendFactory = (url) => {
  const conn = new RedisConnection(url)
  return composeBackend(
    'redis',
    {
      broker: new RedisBroker(conn),
      results: new RedisResultStore(conn),
      coordination: new RedisCoordination(conn),
    },
    conn,
  )
}
