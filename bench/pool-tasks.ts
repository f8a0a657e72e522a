/** Tasks of the pool benchmark (bench/pools.ts), loaded by each pool child as its app module. */
import { createHash } from 'node:crypto'
import { createApp, type App } from 'celeriac'

export function defineTasks(app: App) {
  return {
    /** About `ms` of SHA-256 hashing: CPU-bound, never yields. */
    hash: app.task('bench.hash', (_ctx, ms: number) => {
      const end = performance.now() + ms
      let h = Buffer.alloc(32)
      while (performance.now() < end) h = createHash('sha256').update(h).digest()
      return h.toString('hex').slice(0, 8)
    }),
    noop: app.task('bench.noop', () => null),
  }
}

export const app = createApp({ name: 'bench-pools', broker: 'memory://bench-pools-child' })
defineTasks(app)
