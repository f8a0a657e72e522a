/**
 * Redis for end-to-end tests: a unique key prefix on the shared server ($REDIS_URL, default
 * redis://127.0.0.1:6379/0) that is deleted afterwards, private redis-server processes for
 * tests that stop and restart the server, and a private Cluster or Sentinel setup.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
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

/** A port P free for a Cluster node, whose bus port P + 10000 is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  const canBind = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer()
      srv.once('error', () => resolve(false))
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
    })
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue
    if ((await canBind(port)) && (await canBind(port + 10_000))) {
      taken.add(port)
      return port
    }
  }
  throw new Error('no free port pair (P, P + 10000) for a Redis Cluster node')
}

/** Fails with the package to install when a binary the test needs is missing. */
export function requireBinary(bin: string, aptPackage: string): void {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' })
  if (r.error)
    throw new Error(`this test needs ${bin} on PATH (Debian/Ubuntu: apt-get install -y ${aptPackage})`)
}

/** A redis-server process without persistence; resolves once it accepts connections. */
async function startRedis(args: string[], cwd: string): Promise<{ proc: ChildProcess; log: () => string }> {
  let log = ''
  const p = spawn('redis-server', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 10_000)
    const onData = (b: Buffer) => {
      log += b.toString()
      if (/Ready to accept connections|Sentinel ID is/.test(log)) {
        clearTimeout(timer)
        resolve()
      }
    }
    p.stdout!.on('data', onData)
    p.stderr!.on('data', onData)
    p.on('error', (e) => reject(e))
    p.on('exit', (code) => reject(new Error(`redis-server ${args.join(' ')} exited ${code}:\n${log}`)))
  })
  return { proc: p, log: () => log }
}

async function stopAll(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve()
          p.once('exit', () => resolve())
          p.kill('SIGKILL')
        }),
    ),
  )
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A private Redis Cluster of `size` primaries (no replicas) on 127.0.0.1, in its own temp dir. */
export class RedisCluster {
  readonly ports: number[] = []
  private readonly procs: ChildProcess[] = []

  constructor(readonly dir: string) {}

  /** `redis+cluster://` with every node as a seed, and a fresh prefix. */
  url(prefix: string): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}/?prefix=${prefix}`
  }

  async start(size = 3): Promise<void> {
    requireBinary('redis-server', 'redis-server')
    requireBinary('redis-cli', 'redis-tools')
    const taken = new Set<number>()
    for (let i = 0; i < size; i++) this.ports.push(await freeClusterPort(taken))
    for (const port of this.ports) {
      const dir = join(this.dir, String(port))
      mkdirSync(dir, { recursive: true })
      const { proc } = await startRedis(
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        dir,
      )
      this.procs.push(proc)
    }
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...this.ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    )
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${create.stdout}${create.stderr}`)
    const deadline = Date.now() + 20_000
    for (;;) {
      const states = await Promise.all(this.ports.map((p) => clusterState(p)))
      if (states.every((s) => s === 'ok')) return
      if (Date.now() > deadline) throw new Error(`cluster_state not ok after 20 s: ${states.join(', ')}`)
      await sleep(100)
    }
  }

  /** Kills the processes and deletes the temp dir. */
  async stop(): Promise<void> {
    await stopAll(this.procs)
    rmSync(this.dir, { recursive: true, force: true })
  }
}

async function clusterState(port: number): Promise<string> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
  try {
    await r.connect()
    const info = (await r.call('CLUSTER', 'INFO')) as string
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown'
  } catch {
    return 'unreachable'
  } finally {
    r.disconnect()
  }
}

/** A private primary watched by one Sentinel (run as `redis-server --sentinel`), in a temp dir. */
export class RedisSentinelSetup {
  primaryPort = 0
  sentinelPort = 0
  readonly name = 'celeriac-primary'
  private readonly procs: ChildProcess[] = []

  constructor(readonly dir: string) {}

  url(prefix: string): string {
    return `redis+sentinel://127.0.0.1:${this.sentinelPort}/${this.name}/0?prefix=${prefix}`
  }

  async start(): Promise<void> {
    requireBinary('redis-server', 'redis-server')
    this.primaryPort = await freePort()
    this.sentinelPort = await freePort()
    const { proc } = await startRedis(
      [
        '--port',
        String(this.primaryPort),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
      ],
      this.dir,
    )
    this.procs.push(proc)
    // Sentinel rewrites its config file, so it gets one of its own.
    const conf = join(this.dir, 'sentinel.conf')
    writeFileSync(
      conf,
      [
        `port ${this.sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${this.name} 127.0.0.1 ${this.primaryPort} 1`,
        `sentinel down-after-milliseconds ${this.name} 5000`,
        '',
      ].join('\n'),
    )
    const sentinel = await startRedis([conf, '--sentinel'], this.dir)
    this.procs.push(sentinel.proc)
    const s = new Redis({ port: this.sentinelPort, host: '127.0.0.1', maxRetriesPerRequest: 0 })
    try {
      const deadline = Date.now() + 10_000
      for (;;) {
        const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', this.name)) as string[] | null
        if (addr?.[1] === String(this.primaryPort)) return
        if (Date.now() > deadline) throw new Error(`sentinel does not report the primary:\n${sentinel.log()}`)
        await sleep(100)
      }
    } finally {
      s.disconnect()
    }
  }

  /** Kills the processes and deletes the temp dir. */
  async stop(): Promise<void> {
    await stopAll(this.procs)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
