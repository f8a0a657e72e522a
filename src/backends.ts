/** The backends shipped with celeriac, by URL scheme; each is imported on first use. */
import type { BackendFactory } from './contracts/backend.js'

const memory = async (): Promise<BackendFactory> => (await import('./brokers/memory/index.js')).backend
const sqlite = async (): Promise<BackendFactory> => (await import('./brokers/sqlite/index.js')).backend
const amqp = async (): Promise<BackendFactory> => (await import('./brokers/amqp/index.js')).backend
const postgres = async (): Promise<BackendFactory> => (await import('./brokers/postgres/index.js')).backend
const redis = async (): Promise<BackendFactory> => (await import('./brokers/redis/index.js')).backend
const celeryRedis = async (): Promise<BackendFactory> => (await import('./celery/index.js')).backend
const celeryAmqp = async (): Promise<BackendFactory> => (await import('./celery/index.js')).amqpBackend

export const BUILTIN_BACKENDS: Readonly<Record<string, () => Promise<BackendFactory>>> = {
  memory,
  sqlite,
  redis,
  rediss: redis,
  'redis+cluster': redis,
  'rediss+cluster': redis,
  'redis+sentinel': redis,
  'rediss+sentinel': redis,
  amqp,
  amqps: amqp,
  postgres,
  postgresql: postgres,
  'celery+redis': celeryRedis,
  'celery+rediss': celeryRedis,
  'celery+amqp': celeryAmqp,
  'celery+amqps': celeryAmqp,
}
