/**
 * How a PostgreSQL reserve's cost grows with the jobs taken since the last VACUUM:
 * `node --import tsx bench/pg-reserve-walk.ts [total 1000000] [batch 200] [lease ms 600000]`
 * against $DATABASE_URL, in a schema of its own (dropped before and after). Inserts total + 10 %
 * jobs, then one client reserves a batch and deletes it (as an ack would), over and over, and
 * prints the median reserve time every 100,000 jobs. No worker: only the server's side.
 * A short lease lets the taken jobs' `jobs_due` entries come due during the run, so the reserve's
 * expired-lease scan walks them too. Not part of `npm run bench`.
 */
import pg from 'pg'
import { PgDatabase } from '../src/brokers/postgres/database.js'

const [totalArg, batchArg, leaseArg] = process.argv.slice(2)
const total = Number(totalArg ?? 1_000_000)
const batch = Number(batchArg ?? 200)
const lease = Number(leaseArg ?? 600_000)
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = 'bench_reserve_walk'
const c = new pg.Client({ connectionString: base })
await c.connect()
await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
const db = new PgDatabase(`${base}${base.includes('?') ? '&' : '?'}schema=${schema}`)
await db.connect()
await db.close()
// A body of the size a no-op task's envelope has (about 120 bytes); ids shaped like celeriac's
// (36 characters, in the order sent, as its time-ordered UUIDs are).
await c.query(
  `INSERT INTO ${schema}.jobs (id, queue, body)
   SELECT '01' || lpad(to_hex(g), 6, '0') || '-0000-7000-8000-' || substr(md5(g::text), 1, 12), 'default',
          repeat('x', 120)
     FROM generate_series(1, $1) g`,
  [Math.round(total * 1.1)],
)
await c.query('CHECKPOINT')
let taken = 0
let times: number[] = []
while (taken < total) {
  const t = performance.now()
  const { rows } = await c.query<{ id: string }>(`SELECT id FROM ${schema}.reserve($1, $2, $3)`, [
    ['default'],
    batch,
    lease,
  ])
  times.push(performance.now() - t)
  await c.query(`DELETE FROM ${schema}.jobs WHERE id = ANY ($1)`, [rows.map((r) => r.id)])
  taken += rows.length
  if (taken % 100_000 < batch) {
    const median = times.sort((a, b) => a - b)[times.length >> 1]!
    console.log(
      `after ${taken} jobs: reserve of ${batch} median ${median.toFixed(2)} ms (${((median * 1000) / batch).toFixed(1)} µs a job)`,
    )
    times = []
  }
}
await c.query(`DROP SCHEMA ${schema} CASCADE`)
await c.end()
