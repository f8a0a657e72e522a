/**
 * What one job costs the PostgreSQL server, per system: `node --import tsx bench/pg-cost.ts
 * <system> <n> [backlog]` against $DATABASE_URL. Enqueues backlog + n jobs (n per run), then one
 * worker (concurrency 50, results kept) processes n; around that run it reads the server's WAL
 * position and statistics (pg_stat_wal, pg_stat_database, the schema's table and index counters)
 * and, when pg_stat_statements is loaded, the statements the run executed. With $PG_PIDFILE (the
 * postmaster.pid of a server this process may read /proc of, e.g. a private one) it also reads
 * the CPU of the postmaster and all its children (live children, plus reaped ones through the
 * postmaster's cutime/cstime). Prints the deltas per job. Not part of `npm run bench`.
 *
 * PG_COST_VARIANTS="A=1,B=2;A=3" runs the worker once per variant (PG_COST_ROUNDS rounds of
 * them, default 1) over the same backlog, with those variables in its environment (for example
 * BENCH_PREFETCH=450). Two keys are read here: SQLFILE=<file> runs that SQL in the system's schema
 * before the run (to try another version of a function), VACUUM_EVERY_S=<s> vacuums the jobs table
 * every s seconds during the run.
 */
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { driver, prepareNode22, type PgSystem } from './postgres.js'
import { serverCpuMs as postmasterCpuMs } from './pg-server-cpu.js'

const [system, nArg, backlogArg] = process.argv.slice(2) as [PgSystem, string, string?]
const n = Number(nArg)
const backlog = Number(backlogArg ?? 0)
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const pidFile = process.env.PG_PIDFILE

const serverCpuMs = (): number | null => postmasterCpuMs(pidFile)

const client = new pg.Client({ connectionString: url })
await client.connect()
const one = async (text: string, values: unknown[] = []) => (await client.query(text, values)).rows[0]
const hasPss =
  (await one("SELECT count(*)::int AS c FROM pg_extension WHERE extname = 'pg_stat_statements'")).c > 0
const d = driver(system, url)
if (system !== 'celeriac' && system !== 'bullmq-pg') prepareNode22()
await client.query(`DROP SCHEMA IF EXISTS "${d.schema}" CASCADE`)

async function snapshot() {
  await client.query('SELECT pg_stat_force_next_flush()')
  return {
    lsn: (await one('SELECT pg_current_wal_lsn()::text AS l')).l as string,
    wal: await one('SELECT wal_records, wal_fpi, wal_bytes, wal_write, wal_sync FROM pg_stat_wal'),
    db: await one(
      'SELECT xact_commit, blks_hit, blks_read, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()',
    ),
    tables: (
      await client.query(
        'SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, idx_scan, seq_scan FROM pg_stat_user_tables WHERE schemaname = $1',
        [d.schema],
      )
    ).rows,
    indexes: (
      await client.query(
        'SELECT indexrelname, idx_scan, idx_tup_read, idx_tup_fetch FROM pg_stat_user_indexes WHERE schemaname = $1',
        [d.schema],
      )
    ).rows,
    cpu: serverCpuMs(),
  }
}

// PG_COST_VARIANTS="A=1,B=2;A=3": environment variants for the worker, run in turn (rounds of
// them, PG_COST_ROUNDS, default 1) over the same backlog, each processing n jobs.
const variants = (process.env.PG_COST_VARIANTS ?? '').split(';').map((v) =>
  Object.fromEntries(
    v
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=') as [string, string]),
  ),
)
const rounds = Number(process.env.PG_COST_ROUNDS ?? 1)
await d.bulk(backlog + n * variants.length * rounds)
// Let the bulk enqueue's statistics and background writes settle before the measured runs.
await client.query('CHECKPOINT')
await new Promise((r) => setTimeout(r, 1500))
for (let round = 0; round < rounds; round++)
  for (const env of variants) {
    if (env.SQLFILE) {
      await client.query(`SET search_path TO "${d.schema}"`)
      await client.query(readFileSync(env.SQLFILE, 'utf8'))
      await client.query('RESET search_path')
    }
    Object.assign(process.env, env)
    await measure(JSON.stringify(env))
    for (const k of Object.keys(env)) delete process.env[k]
  }

async function measure(label: string) {
  if (hasPss) await client.query('SELECT pg_stat_statements_reset()')
  const a = await snapshot()
  // VACUUM_EVERY_S (a variant key): vacuum the jobs table every so many seconds during the run,
  // on a connection of its own.
  const every = Number(process.env.VACUUM_EVERY_S ?? 0)
  let vacuuming = every > 0
  const vacuums: number[] = []
  const vacuumer = (async () => {
    if (!vacuuming) return
    const v = new pg.Client({ connectionString: url })
    await v.connect()
    while (vacuuming) {
      await new Promise((r) => setTimeout(r, every * 1000))
      if (!vacuuming) break
      const t = performance.now()
      await v.query(`VACUUM (SKIP_LOCKED) "${d.schema}".jobs`)
      vacuums.push(Math.round(performance.now() - t))
    }
    await v.end()
  })()
  const w = await d.worker(n, 'results').result
  vacuuming = false
  await vacuumer
  if (vacuums.length) console.log(`vacuums during the run (ms): ${vacuums.join(', ')}`)
  await new Promise((r) => setTimeout(r, 1200))
  const b = await snapshot()
  const walBytes = Number((await one('SELECT pg_wal_lsn_diff($1, $2)::bigint AS d', [b.lsn, a.lsn])).d)
  const per = (x: number) => Math.round((x / n) * 100) / 100
  const delta = (k: string, o: Record<string, unknown>, p: Record<string, unknown>) =>
    Number(p[k]) - Number(o[k])
  console.log(
    `${system} ${label}: ${n} jobs over a backlog of ${backlog}: ${Math.round((n / w.ms) * 1000)} jobs/s`,
  )
  console.log(
    `per job: worker CPU ${per(w.cpuMs * 1000)} µs, server CPU ${b.cpu === null ? '–' : per((b.cpu - a.cpu!) * 1000)} µs, WAL ${per(walBytes)} B (` +
      ['wal_records', 'wal_fpi', 'wal_write', 'wal_sync']
        .map((k) => `${k} ${per(delta(k, a.wal, b.wal))}`)
        .join(', ') +
      '), ' +
      ['xact_commit', 'blks_hit', 'blks_read', 'tup_inserted', 'tup_updated', 'tup_deleted']
        .map((k) => `${k} ${per(delta(k, a.db, b.db))}`)
        .join(', '),
  )
  for (const t of b.tables) {
    const o = a.tables.find((x) => x.relname === t.relname) ?? {}
    const cols = ['n_tup_ins', 'n_tup_upd', 'n_tup_hot_upd', 'n_tup_del', 'idx_scan', 'seq_scan']
    const v = cols.map((k) => [k, per(Number(t[k] ?? 0) - Number(o[k] ?? 0))] as const).filter(([, x]) => x)
    if (v.length) console.log(`  table ${t.relname}: ${v.map(([k, x]) => `${k} ${x}`).join(', ')}`)
  }
  for (const t of b.indexes) {
    const o = a.indexes.find((x) => x.indexrelname === t.indexrelname) ?? {}
    const cols = ['idx_scan', 'idx_tup_read', 'idx_tup_fetch']
    const v = cols.map((k) => [k, per(Number(t[k] ?? 0) - Number(o[k] ?? 0))] as const).filter(([, x]) => x)
    if (v.length) console.log(`  index ${t.indexrelname}: ${v.map(([k, x]) => `${k} ${x}`).join(', ')}`)
  }
  if (hasPss) {
    const { rows } = await client.query(
      `SELECT calls, rows, round(total_exec_time::numeric, 1) AS ms, shared_blks_hit AS hit, shared_blks_dirtied AS dirtied,
            wal_records, wal_fpi, wal_bytes, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT 12`,
    )
    for (const r of rows)
      console.log(
        `  ${per(Number(r.ms) * 1000)} µs/job exec, ${r.calls} calls, ${r.rows} rows, hit ${per(Number(r.hit))}, dirtied ${per(Number(r.dirtied))}, wal ${per(Number(r.wal_bytes))} B/${per(Number(r.wal_records))} rec/${per(Number(r.wal_fpi))} fpi: ${r.q}`,
      )
  }
}

await client.query(`DROP SCHEMA IF EXISTS "${d.schema}" CASCADE`)
await client.end()
