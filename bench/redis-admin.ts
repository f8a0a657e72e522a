/**
 * The Redis server the benchmark shares between systems: one database number per system, claimed
 * with a marker key so that a database holding someone else's data is never flushed.
 */
import { Redis } from 'ioredis'

export type System = 'celeriac' | 'bullmq' | 'celery'

const MARKER = 'celeriac-bench:owner'

export interface Target {
  readonly host: string
  readonly port: number
  readonly db: number
  /** redis://host:port/db */
  readonly url: string
}

/** $REDIS_URL's server (default 127.0.0.1:6379) with databases base, base+1, base+2. */
export function targets(redisUrl: string, base: number): Record<System, Target> {
  const u = new URL(redisUrl)
  const host = u.hostname || '127.0.0.1'
  const port = Number(u.port || 6379)
  const at = (db: number): Target => ({ host, port, db, url: `redis://${host}:${port}/${db}` })
  return { celeriac: at(base), bullmq: at(base + 1), celery: at(base + 2) }
}

export class Admin {
  private readonly redis: Redis

  constructor(readonly target: Target) {
    this.redis = new Redis({ host: target.host, port: target.port, db: target.db })
  }

  /** Claims the database: refuses one that holds keys without our marker. */
  async claim(): Promise<void> {
    const size = await this.redis.dbsize()
    if (size > 0 && !(await this.redis.exists(MARKER)))
      throw new Error(
        `redis db ${this.target.db} at ${this.target.host}:${this.target.port} holds ${size} keys that the ` +
          `benchmark did not write; choose other databases with --db <n> (uses n, n+1, n+2)`,
      )
    await this.flush()
  }

  /** FLUSHDB of our own database only, then the marker again. */
  async flush(): Promise<void> {
    await this.redis.flushdb()
    await this.redis.set(MARKER, String(process.pid))
  }

  /** Leaves the database empty (FLUSHDB) and disconnects. */
  async release(): Promise<void> {
    await this.redis.flushdb()
    this.redis.disconnect()
  }

  close(): void {
    this.redis.disconnect()
  }

  /** Redis CPU (user + sys) in ms since it started: the whole server, every database. */
  async cpuMs(): Promise<number> {
    const info = await this.redis.info('cpu')
    const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0)
    return (get('used_cpu_user') + get('used_cpu_sys')) * 1000
  }

  async usedMemory(): Promise<number> {
    const info = await this.redis.info('memory')
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0)
  }

  /** Sum of MEMORY USAGE (exact, SAMPLES 0) over every key of the database but the marker. */
  async keyBytes(): Promise<number> {
    let total = 0
    let cursor = '0'
    do {
      const [next, keys] = await this.redis.scan(cursor, 'COUNT', 1000)
      cursor = next
      const own = keys.filter((k) => k !== MARKER)
      if (!own.length) continue
      const p = this.redis.pipeline()
      for (const k of own) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')
      for (const [err, v] of (await p.exec()) ?? []) if (!err) total += Number(v ?? 0)
    } while (cursor !== '0')
    return total
  }

  async version(): Promise<string> {
    const info = await this.redis.info('server')
    return /redis_version:(\S+)/.exec(info)?.[1] ?? '?'
  }
}

/** Deletes every key celeriac wrote under a URL's `prefix=` (`{prefix…}` and `prefix:…`). */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    for (const match of [`{${prefix}*`, `${prefix}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 5000)
        if (keys.length) await redis.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    }
  } finally {
    redis.disconnect()
  }
}
