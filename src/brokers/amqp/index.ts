/**
 * `amqp://user:pass@host:5672/vhost[?queue-type=classic|quorum&prefix=name]` and `amqps://`
 * (README.md): a broker on RabbitMQ through amqplib (an optional peer dependency, imported on
 * connect). RabbitMQ supplies no result store and no coordination part: name a Redis, PostgreSQL
 * or SQLite URL as the app's `resultBackend` (and `coordination`).
 */
import { composeBackend, type BackendFactory } from '../../contracts/backend.js'
import { AmqpBroker } from './broker.js'
import { AmqpConnection } from './connection.js'
import { parseAmqpUrl } from './url.js'

export { AmqpBroker } from './broker.js'
export { AmqpConnection } from './connection.js'
export { parseAmqpUrl, type AmqpTarget, type QueueType } from './url.js'

/** The broker part on one connection, opened by the backend's connect and closed once. */
export const backend: BackendFactory = (url) => {
  const conn = new AmqpConnection(parseAmqpUrl(url))
  return composeBackend('amqp', { broker: new AmqpBroker(conn) }, conn)
}
