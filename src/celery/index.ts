/**
 * `celery+redis://[user:password@]host[:port][/db][?visibility_timeout=seconds]`: a broker and
 * result store that speak Celery's message protocol v2 on kombu's Redis layout and Celery's
 * Redis result format, so celeriac and Python Celery send each other tasks and read each
 * other's results (README, "Working with Python Celery"). Coordination (revokes, events, locks)
 * is celeriac's own, on the same server under the `celeriac` prefix.
 */
import { composeBackend, type BackendFactory } from '../contracts/backend.js'
import { AmqpConnection } from '../brokers/amqp/connection.js'
import { parseAmqpUrl } from '../brokers/amqp/url.js'
import { ConfigError } from '../core/errors.js'
import { CeleryAmqpBroker } from './amqp.js'
import { RedisCoordination } from '../brokers/redis/coordination.js'
import { RedisConnection } from '../brokers/redis/shared.js'
import { CeleryRedisBroker } from './broker.js'
import { parseCeleryRedisUrl } from './layout.js'
import { CeleryRedisResultStore } from './results.js'

export { CeleryRedisBroker } from './broker.js'
export { CeleryAmqpBroker } from './amqp.js'
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

/**
 * `celery+amqp://user:pass@host:5672/vhost[?results=redis://host:6379/db]` (and
 * `celery+amqps://`): Celery's layout on RabbitMQ (amqp.ts); with `results=`, Celery's Redis
 * result format and celeriac's coordination on that Redis server, else the app's resultBackend.
 */
export const amqpBackend: BackendFactory = (url) => {
  const m = /^celery\+(amqps?):\/\//i.exec(url)
  if (!m) throw new ConfigError(`${url}: a Celery RabbitMQ URL starts with celery+amqp:// or celery+amqps://`)
  const u = new URL(`${m[1]!.toLowerCase()}://${url.slice(m[0].length)}`)
  const results = u.searchParams.get('results')
  u.searchParams.delete('results')
  if (u.searchParams.has('prefix') || u.searchParams.has('queue-type'))
    throw new ConfigError(
      `${url}: Celery's layout has no prefix and classic queues only; drop prefix= and queue-type=`,
    )
  if (results !== null && !/^rediss?:\/\//i.test(results))
    throw new ConfigError(`${url}: results= must be a redis:// or rediss:// URL, got "${results}"`)
  const amqp = new AmqpConnection(parseAmqpUrl(u.toString()))
  const redis = results === null ? null : new RedisConnection(results)
  return composeBackend(
    'celery+amqp',
    {
      broker: new CeleryAmqpBroker(amqp),
      ...(redis
        ? { results: new CeleryRedisResultStore(redis), coordination: new RedisCoordination(redis) }
        : {}),
    },
    {
      connect: async () => {
        await Promise.all([amqp.connect(), redis?.connect()])
      },
      close: async () => {
        await Promise.allSettled([amqp.close(), redis?.close()])
      },
    },
  )
}
