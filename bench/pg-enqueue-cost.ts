/**
 * What a bulk enqueue costs per job, per system: `node --import tsx bench/pg-enqueue-cost.ts
 * <system,system…> [n 100000] [rounds 3]` against $DATABASE_URL, with $PG_PIDFILE the
 * postmaster.pid of a private server (its CPU is read from /proc, as in pg-cost.ts). Each round
 * runs every system's bulk producer (the same child as `npm run bench`, batches of 1,000) twice
 * into a freshly dropped schema, with n jobs and with 1,000, and prints per job of the difference
 * (so connecting, creating the schema and the first batch's planning cancel out): server CPU
 * (postmaster and all its processes), producer CPU (its own figure for the enqueue loop), WAL bytes
 * (pg_current_wal_lsn) and, when pg_stat_statements is loaded, the statements of the large run
 * with their execution time, rows and WAL. Systems alternate within each round. Not part of
 * `npm run bench`.
 *
 * System `celeriac-base` (with $PG_ENQUEUE_BASE, the root of another built checkout of celeriac,
 * e.g. the commit before a change): that checkout's bulk producer, for old/new A/B runs.
 */
import { join, relative } from 'node:path'
import pg from 'pg'
import { driver, prepareNode22, type Driver, type PgSystem } from './postgres.js'
import { runChild } from './proc.js'
import { BENCH_DIR } from './run.js'
import { serverCpuMs as postmasterCpuMs } from './pg-server-cpu.js'

const [systemsArg, nArg, roundsArg] = process.argv.slice(2)
const systems = (systemsArg ?? 'celeriac,graphile').split(',') as (PgSystem | 'celeriac-base')[]
const n = Number(nArg ?? 100_000)
const rounds = Number(roundsArg ?? 3)
const small = 1000
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const pidFile = process.env.PG_PIDFILE

const serverCpuMs = (): number => postmasterCpuMs(pidFile) ?? NaN

const client = new pg.Client({ connectionString: url })
await client.connect()
const one = async (text: string, values: unknown[] = []) => (await client.query(text, values)).rows[0]
const hasPss =
  (await one("SELECT count(*)::int AS c FROM pg_extension WHERE extname = 'pg_stat_statements'")).c > 0
if (systems.some((s) => s.startsWith('graphile') || s === 'pg-boss')) prepareNode22()

interface Run {
  cpu: number
  wal: number
  clientMs: number
  ms: number
  statements: string[]
}

function driverOf(system: PgSystem | 'celeriac-base'): Pick<Driver, 'schema' | 'bulk'> {
  if (system !== 'celeriac-base') return driver(system, url)
  const base = process.env.PG_ENQUEUE_BASE
  if (!base) throw new Error('celeriac-base needs PG_ENQUEUE_BASE')
  const schema = 'bench_celeriac_base'
  const script = relative(BENCH_DIR, join(base, 'bench', 'redis-producer.ts'))
  return { schema, bulk: (n) => runChild(script, ['bulk', `${url}?schema=${schema}`, n, 1000]) }
}

async function run(system: PgSystem | 'celeriac-base', jobs: number): Promise<Run> {
  const d = driverOf(system)
  await client.query(`DROP SCHEMA IF EXISTS "${d.schema}" CASCADE`)
  await client.query('CHECKPOINT')
  if (hasPss) await client.query('SELECT pg_stat_statements_reset()')
  const lsn0 = (await one('SELECT pg_current_wal_lsn()::text AS l')).l as string
  const cpu0 = serverCpuMs()
  const e = await d.bulk(jobs)
  // The backend's exit is reaped by the postmaster a moment after the child closes its connection.
  await new Promise((r) => setTimeout(r, 300))
  const cpu = serverCpuMs() - cpu0
  const wal = Number((await one('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS d', [lsn0])).d)
  const statements: string[] = []
  if (hasPss) {
    const { rows } = await client.query(
      `SELECT calls, rows, round(total_exec_time::numeric, 1) AS ms, round(total_plan_time::numeric, 1) AS plan,
              wal_bytes, wal_records, shared_blks_hit AS hit, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 4`,
    )
    const per = (x: unknown) => Math.round((Number(x) / jobs) * 100) / 100
    for (const r of rows)
      statements.push(
        `${per(Number(r.ms) * 1000)} µs/job exec (+${per(Number(r.plan) * 1000)} plan), ${r.calls} calls, ${r.rows} rows, ` +
          `wal ${per(r.wal_bytes)} B/${per(r.wal_records)} rec, hit ${per(r.hit)}: ${r.q}`,
      )
  }
  await client.query(`DROP SCHEMA IF EXISTS "${d.schema}" CASCADE`)
  return { cpu, wal, clientMs: e.cpuMs, ms: e.ms, statements }
}

const f = (x: number) => Math.round(x * 100) / 100
const table: Record<string, { server: number[]; client: number[]; wal: number[]; rate: number[] }> = {}
for (let round = 0; round < rounds; round++)
  for (const system of round % 2 ? [...systems].reverse() : systems) {
    const big = await run(system, n)
    const few = await run(system, small)
    const k = n - small
    const row = {
      server: ((big.cpu - few.cpu) * 1000) / k,
      client: ((big.clientMs - few.clientMs) * 1000) / k,
      wal: (big.wal - few.wal) / k,
      rate: Math.round((n / big.ms) * 1000),
    }
    const t = (table[system] ??= { server: [], client: [], wal: [], rate: [] })
    t.server.push(row.server)
    t.client.push(row.client)
    t.wal.push(row.wal)
    t.rate.push(row.rate)
    console.log(
      `${system} round ${round + 1}: ${row.rate} jobs/s; per job: server CPU ${f(row.server)} µs (raw ${f((big.cpu * 1000) / n)}), ` +
        `producer CPU ${f(row.client)} µs (raw ${f((big.clientMs * 1000) / n)}), WAL ${f(row.wal)} B (raw ${f(big.wal / n)})`,
    )
    for (const s of big.statements) console.log(`  ${s}`)
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log('\nmedians per job:')
for (const [system, t] of Object.entries(table))
  console.log(
    `${system}: server CPU ${f(median(t.server))} µs, producer CPU ${f(median(t.client))} µs, WAL ${f(median(t.wal))} B, ${median(t.rate)} jobs/s`,
  )
await client.end()
