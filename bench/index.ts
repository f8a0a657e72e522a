/**
 * `npm run bench [-- --broker sqlite|redis|all] [--n 100000]`: benchmarks, printed as tables.
 * Results are recorded by hand in docs/benchmarks.md with the machine and versions.
 */
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { benchSqlite } from './sqlite.js'
import { printTable } from './run.js'

const { values } = parseArgs({
  options: { broker: { type: 'string', default: 'sqlite' }, n: { type: 'string' } },
})

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
)

if (values.broker === 'sqlite' || values.broker === 'all') {
  const n = Number(values.n ?? 100_000)
  const rows = await benchSqlite(n)
  printTable(
    `SQLite broker: ${n.toLocaleString('en-US')} no-op tasks, producer and one worker process (concurrency 50)`,
    ['case', 'bulk enqueue jobs/s', 'processing jobs/s'],
    rows.map((r) => [r.case, r.enqueue, r.process]),
  )
}
