/**
 * A private PostgreSQL server for tests that stop and start it: its own data directory in a
 * temporary folder, its own port and socket directory, so the shared server on 5432 and everyone
 * using it are never touched. Needs the server binaries (initdb, pg_ctl): $PG_BIN, else the newest
 * /usr/lib/postgresql/<version>/bin. As root, they run as the `postgres` user (initdb refuses root).
 */
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { promisify } from 'node:util'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort } from './redis-helpers.js'
import { tempDir } from './helpers.js'

/** Where initdb and pg_ctl are, or why they cannot be used. */
export function postgresBinaries(): { bin: string } | { missing: string } {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .filter((v) => /^\d+$/.test(v))
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []
  const bin = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')))
  if (!bin)
    return { missing: 'no PostgreSQL server binaries (set PG_BIN to the folder holding initdb and pg_ctl)' }
  if (userInfo().uid === 0) {
    try {
      execFileSync('id', ['postgres'], { stdio: 'ignore' })
    } catch {
      return { missing: 'running as root with no postgres user to run the server as' }
    }
  }
  return { bin }
}

export class PostgresServer {
  readonly dir = tempDir('celeriac-pg-server-')
  readonly data = join(this.dir, 'data')
  private constructor(
    readonly bin: string,
    readonly port: number,
  ) {}

  /** Creates the cluster (trust authentication, fsync off: a test's throwaway data) and starts it. */
  static async create(bin: string): Promise<PostgresServer> {
    const server = new PostgresServer(bin, await freePort())
    if (userInfo().uid === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
      chownSync(server.dir, uid, gid)
    }
    await server.run('initdb', [
      '-D',
      server.data,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
    ])
    await server.start()
    return server
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }

  /** Runs a server tool (as the postgres user when root), without blocking the test's event loop. */
  private async run(tool: string, args: string[]): Promise<void> {
    const path = join(this.bin, tool)
    const [cmd, argv] =
      userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args]
    await promisify(execFile)(cmd, argv, { cwd: this.dir, timeout: 60_000 })
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`
    await this.run('pg_ctl', [
      'start',
      '-D',
      this.data,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      options,
    ])
  }

  /** Stops it the way `pg_ctlcluster … stop` does: fast mode, clients disconnected, a clean checkpoint. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.run('pg_ctl', ['stop', '-D', this.data, '-m', mode, '-w', '-t', '60'])
  }

  /** Stops it if it runs and removes its files. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => {})
    rmSync(this.dir, { recursive: true, force: true })
  }
}
