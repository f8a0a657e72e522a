/** The backends shipped with celeriac, registered by URL scheme and loaded on first use. */
import { registerBackend } from './core/backends.js'

registerBackend('memory', async () => (await import('./brokers/memory/index.js')).backend)
registerBackend('sqlite', async () => (await import('./brokers/sqlite/index.js')).backend)
registerBackend('redis', async () => (await import('./brokers/redis/index.js')).backend)
registerBackend('rediss', async () => (await import('./brokers/redis/index.js')).backend)
registerBackend('redis+cluster', async () => (await import('./brokers/redis/index.js')).backend)
registerBackend('rediss+cluster', async () => (await import('./brokers/redis/index.js')).backend)
registerBackend('redis+sentinel', async () => (await import('./brokers/redis/index.js')).backend)
registerBackend('rediss+sentinel', async () => (await import('./brokers/redis/index.js')).backend)
