/**
 * A private RabbitMQ node for tests that change server settings or stop and start the server: its
 * own node name, ports, data and log folders and Erlang cookie (HOME) in a temporary folder, so
 * the shared server on 5672 and everyone using it are never touched. Needs the server scripts
 * (`/usr/lib/rabbitmq/bin`, or $RABBITMQ_BIN). A node takes ~10-15 s to boot.
 *
 * ```ts
 * const node = await RabbitNode.start({ consumerTimeoutMs: 3000 })
 * const url = node.url                  // amqp://guest:guest@127.0.0.1:<port>
 * await node.ctl('stop_app'); await node.ctl('start_app')
 * await node.stop()
 * ```
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Where the server scripts are, or why a private node cannot be started. */
export function rabbitBinaries(): { bin: string } | { missing: string } {
  const bin = process.env.RABBITMQ_BIN ?? '/usr/lib/rabbitmq/bin'
  if (!existsSync(join(bin, 'rabbitmq-server')) || !existsSync(join(bin, 'rabbitmqctl')))
    return { missing: `no RabbitMQ server scripts in ${bin} (set RABBITMQ_BIN)` }
  return { bin }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export interface RabbitNodeOptions {
  /** The node's `consumer_timeout` (ms); RabbitMQ's default when not given. */
  readonly consumerTimeoutMs?: number
}

export class RabbitNode {
  private proc: ChildProcess | null = null
  private exit: Promise<void> = Promise.resolve()
  /** Output of the server process, for a failing test's message. */
  log = ''

  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly name: string,
    readonly port: number,
    readonly distPort: number,
  ) {}

  /** Creates the node's folders and config, and boots it. */
  static async start(options: RabbitNodeOptions = {}): Promise<RabbitNode> {
    const found = rabbitBinaries()
    if ('missing' in found) throw new Error(found.missing)
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-rabbit-'))
    const conf = ['loopback_users = none']
    // RabbitMQ looks for timed out consumers on each channel tick, once a minute by default: a
    // short timeout needs a short tick, or a consumer is closed up to a minute late.
    const tick = options.consumerTimeoutMs === undefined ? 60_000 : Math.min(1000, options.consumerTimeoutMs)
    if (options.consumerTimeoutMs !== undefined) conf.push(`consumer_timeout = ${options.consumerTimeoutMs}`)
    writeFileSync(join(dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`)
    writeFileSync(join(dir, 'advanced.config'), `[{rabbit, [{channel_tick_interval, ${tick}}]}].\n`)
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n')
    const node = new RabbitNode(
      found.bin,
      dir,
      `celeriac-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}@localhost`,
      await freePort(),
      await freePort(),
    )
    await node.boot()
    return node
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`
  }

  private get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      // The Erlang cookie is read from and written to $HOME: a private one.
      HOME: this.dir,
      RABBITMQ_NODENAME: this.name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(this.dir, 'pid'),
    }
  }

  /** Starts the server process (on the same data folder when it ran before) and waits for it. */
  async boot(): Promise<void> {
    rmSync(join(this.dir, 'pid'), { force: true })
    const p = spawn(join(this.bin, 'rabbitmq-server'), [], { cwd: this.dir, env: this.env, stdio: 'pipe' })
    this.proc = p
    p.stdout!.on('data', (b: Buffer) => (this.log += b.toString()))
    p.stderr!.on('data', (b: Buffer) => (this.log += b.toString()))
    this.exit = new Promise((resolve) => p.once('exit', () => resolve()))
    try {
      await this.ctl('wait', join(this.dir, 'pid'), '--timeout', '90')
    } catch (err) {
      throw new Error(`the private RabbitMQ node did not start: ${(err as Error).message}\n${this.log}`, {
        cause: err,
      })
    }
  }

  /** Runs `rabbitmqctl -n <node> …` against this node; resolves with its output. */
  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await run(join(this.bin, 'rabbitmqctl'), ['-n', this.name, ...args], {
      env: this.env,
      cwd: this.dir,
      timeout: 120_000,
    })
    return stdout
  }

  /** Closes every client connection whose `connection_name` contains `name` (a network cut). */
  async closeConnections(name: string): Promise<number> {
    const out = await this.ctl('list_connections', '-q', 'pid', 'client_properties')
    const pids = out
      .split('\n')
      .filter((l) => l.includes(name))
      .map((l) => l.split('\t')[0]!)
    for (const pid of pids) await this.ctl('close_connection', pid, 'cut by a test')
    return pids.length
  }

  /** Stops the whole node (the data folder stays, so `boot` brings it back with its queues). */
  async halt(): Promise<void> {
    if (!this.proc) return
    await this.ctl('stop').catch(() => this.proc?.kill('SIGKILL'))
    await this.exit
    this.proc = null
  }

  /** Stops the node and deletes its folder. */
  async stop(): Promise<void> {
    await this.halt()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
