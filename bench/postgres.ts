/**
 * PostgreSQL benchmark: celeriac, Graphile Worker (unbatched and batched), pg-boss and BullMQ's
 * PostgreSQL backend, one after another on the same server, each in its own schema (dropped before
 * and after), each with a producer process and one worker process at concurrency 50. Figures come
 * from child processes (./proc.ts); this file sequences them and reads the server's own
 * statistics: dead tuples (pg_stat_user_tables.n_dead_tup) in the system's schema after its run.
 *
 * celeriac's children are the engine-agnostic redis-producer.ts / redis-worker.ts with a
 * postgres:// URL.
 */
import pg from 'pg'
import { runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { rate } from './run.js'

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

interface Driver {
  readonly schema: string
  bulk(n: number): Promise<ProducerReport>
  steady(perSec: number, seconds: number): Promise<ProducerReport>
  worker(n: number, mode: 'results' | 'latency'): ReturnType<typeof start<WorkerReport>>
}

function driver(system: PgSystem, databaseUrl: string): Driver {
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
      ? ['pg-boss.ts', '']
      : system === 'bullmq-pg'
        ? ['pg-bullmq.ts', '']
        : ['pg-graphile.ts', system === 'graphile-batched' ? 'batched' : 'unbatched']
  return {
    schema,
    bulk: (n) => runChild(script, ['bulk', databaseUrl, schema, n, 1000]),
    steady: (r, s) => runChild(script, ['steady', databaseUrl, schema, r, s]),
    worker: (n, mode) => start(script, ['work', databaseUrl, schema, n, CONCURRENCY, mode, variant]),
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
  withClient(url, async (c) => (await c.query<{ v: string }>('SHOW server_version')).rows[0]!.v)

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
  for (const system of options.systems ?? PG_SYSTEMS) {
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
