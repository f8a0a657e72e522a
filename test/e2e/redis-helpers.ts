/**
 * Redis for end-to-end tests: a unique key prefix on the shared server ($REDIS_URL, default
 * redis://127.0.0.1:6379/0) that is deleted afterwards, and private redis-server processes for
 * tests that stop and restart the server.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import { FIXTURE, run, type Proc } from './helpers.js'

export const REDIS_BASE = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

/** `base` with a fresh `prefix` query parameter, and the prefix. */
export function withPrefix(base: string, tag: string): { url: string; prefix: string } {
  const prefix = `celeriac-e2e-${tag}-${randomUUID().slice(0, 8)}`
  return { url: `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`, prefix }
}

/** Deletes every key of a prefix: queue keys `{prefix…}` and results `prefix:result:…`. */
export async function deletePrefix(base: string, prefix: string): Promise<number> {
  const redis = new Redis(base.replace(/\?.*$/, ''), { maxRetriesPerRequest: 1 })
  let deleted = 0
  try {
    for (const match of [`{${prefix}*`, `${prefix}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 5000)
        if (keys.length) deleted += await redis.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    }
  } finally {
    redis.disconnect()
  }
  return deleted
}

/** A worker process of the fixture app on a Redis URL. */
export function redisWorker(url: string, args: string[], env: Record<string, string> = {}): Proc {
  return run(['-A', FIXTURE, 'worker', '--no-banner', ...args], { CELERIAC_BROKER: url, ...env })
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/** A private redis-server with an append-only file fsynced on every write. */
export class RedisServer {
  private proc: ChildProcess | null = null
  private exit: Promise<void> = Promise.resolve()
  log = ''

  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`
  }

  async start(): Promise<void> {
    const p = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        this.dir,
        '--save',
        '',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    this.proc = p
    const from = this.log.length
    this.exit = new Promise((r) => p.on('exit', () => r()))
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${this.log}`)), 10_000)
      const onData = (b: Buffer) => {
        this.log += b.toString()
        if (this.log.includes('Ready to accept connections', from)) {
          clearTimeout(timer)
          resolve()
        }
      }
      p.stdout!.on('data', onData)
      p.stderr!.on('data', onData)
      p.on('exit', (code) => reject(new Error(`redis-server exited ${code}:\n${this.log}`)))
    })
    await ready
  }

  /** SIGTERM (Redis flushes the AOF and exits) and wait for the process to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.proc) return
    this.proc.kill(signal)
    await this.exit
    this.proc = null
  }
}
