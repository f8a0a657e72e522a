/**
 * Fresh broker URLs of each engine for suites that build apps from a URL, and the cleanup that
 * removes what they left: temp files for SQLite, the keys of each prefix for Redis (REDIS_URL,
 * else redis://127.0.0.1:6379/0). Never touches data a test did not create.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

export interface EngineUrls {
  readonly name: string
  /** A URL no other test uses. */
  url(): string
  /** Deletes what the URLs handed out hold; call once the apps using them are closed. */
  cleanup(): Promise<void>
}

export function memoryUrls(): EngineUrls {
  return { name: 'memory', url: () => `memory://${randomUUID()}`, cleanup: async () => {} }
}

export function sqliteUrls(): EngineUrls {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-engine-'))
  return {
    name: 'sqlite',
    url: () => `sqlite://${join(dir, `${randomUUID().slice(0, 8)}.db`)}`,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

export function redisBaseUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
}

export function redisUrls(): EngineUrls {
  const base = redisBaseUrl()
  const prefixes: string[] = []
  return {
    name: 'redis',
    url: () => {
      const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
      prefixes.push(prefix)
      return `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
    },
    cleanup: async () => {
      const redis = new Redis(base)
      try {
        for (const prefix of prefixes.splice(0)) {
          let cursor = '0'
          do {
            // Queue keys are `{prefix:…}`, results `prefix:result:…`: match the prefix anywhere.
            const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000)
            if (keys.length) await redis.del(...keys)
            cursor = next
          } while (cursor !== '0')
        }
      } finally {
        await redis.quit()
      }
    },
  }
}

export function postgresBaseUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
}

/**
 * PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test): a schema per URL, each
 * dropped with everything in it by cleanup. Pools are small, since a suite opens many at once.
 */
export function postgresUrls(): EngineUrls {
  const base = postgresBaseUrl()
  const schemas: string[] = []
  return {
    name: 'postgres',
    url: () => {
      const schema = `celeriac_test_${randomUUID().slice(0, 8)}`
      schemas.push(schema)
      return `${base}${base.includes('?') ? '&' : '?'}schema=${schema}&pool=3`
    },
    cleanup: async () => {
      const { default: pg } = await import('pg')
      const client = new pg.Client({ connectionString: base })
      await client.connect()
      try {
        for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
      } finally {
        await client.end()
      }
    },
  }
}
