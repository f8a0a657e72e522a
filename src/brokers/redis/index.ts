/**
 * `redis://[user:password@]host[:port][/db][?prefix=name]` and `rediss://` (TLS), plus
 * `redis+cluster://host:port,…` and `redis+sentinel://host:port,…/<primary>[/db]` (README.md):
 * broker and result store on Redis, through ioredis (an optional peer dependency, imported on connect).
 */
import { composeBackend, type BackendFactory } from '../../contracts/backend.js'
import { RedisBroker } from './broker.js'
import { RedisResultStore } from './results.js'

export { RedisBroker, type RedisBrokerOptions } from './broker.js'
export { RedisResultStore } from './results.js'

export const backend: BackendFactory = (url) =>
  composeBackend('redis', { broker: new RedisBroker(url), results: new RedisResultStore(url) })
