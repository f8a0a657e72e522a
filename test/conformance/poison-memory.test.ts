/**
 * Poison-input conformance on the memory engine. It has no storage of its own to write into, so
 * bad bodies are published through the broker API (which checks ids, not bodies); a second copy
 * of a live id is refused by its idempotent publish.
 */
import { randomUUID } from 'node:crypto'
import { App } from '../../src/core/app.js'
import { poisonConformance } from './poison-suite.js'

const url = `memory://poison-${randomUUID().slice(0, 8)}`
let app: App | null = null

poisonConformance({
  name: 'memory',
  app: (options) => (app = new App({ broker: url, resultBackend: url, ...options })),
  writeRaw: async (queue, entries) => {
    const broker = await app!.broker()
    const now = Date.now()
    await broker.publish(
      entries.map((e) => {
        if (!('id' in e)) throw new Error('the memory engine has no engine-specific shapes')
        return {
          id: e.id,
          queue,
          // What a string-holding engine would hold for bytes that are not UTF-8.
          body: typeof e.body === 'string' ? e.body : Buffer.from(e.body).toString('utf8'),
          priority: e.priority ?? 0,
          ...(e.delayMs ? { availableAt: now + e.delayMs } : {}),
        }
      }),
    )
  },
  duplicateIds: 'skipped',
})
