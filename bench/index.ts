/**
 * `npm run bench [-- --broker sqlite|redis|all] [--n 100000] [--quick] [--db 10] [--cpu-prof dir]`:
 * benchmarks, printed as tables. The default is the SQLite benchmark; `--broker redis` runs
 * celeriac, BullMQ and Celery (when installed) against $REDIS_URL's server (databases --db, +1, +2).
 * `--broker flow` measures flow control on Redis (bench/flow.ts): the cost of a rate limit on
 * throughput, and three workers holding rateLimit '50/s' together.
 * Every run ends with the delayed-start figure (countdown 50 ms → start delay) on memory, SQLite
 * and Redis (bench/start-delay.ts; Redis when $REDIS_URL's server answers).
 * Results are recorded by hand in docs/benchmarks.md with the machine and versions.
 */
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { benchRedis, celeryInstalled, redisVersion } from './redis.js'
import { benchFlow, printFlow } from './flow.js'
import { benchSqlite } from './sqlite.js'
import { benchStartDelay, printStartDelay } from './start-delay.js'
import { printTable } from './run.js'

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: 'sqlite' },
    n: { type: 'string' },
    quick: { type: 'boolean', default: false },
    db: { type: 'string', default: '10' },
    'cpu-prof': { type: 'string' },
  },
})

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
)

if (values.broker === 'sqlite' || values.broker === 'all') {
  const n = Number(values.n ?? (values.quick ? 10_000 : 100_000))
  const rows = await benchSqlite(n)
  printTable(
    `SQLite broker: ${n.toLocaleString('en-US')} no-op tasks, producer and one worker process (concurrency 50)`,
    ['case', 'bulk enqueue jobs/s', 'processing jobs/s'],
    rows.map((r) => [r.case, r.enqueue, r.process]),
  )
}

if (values.broker === 'redis' || values.broker === 'all') {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  const db = Number(values.db)
  const celery = celeryInstalled()
  if (!celery)
    console.log('Celery not installed for /usr/bin/python3 (python3-celery): its column is left out')
  console.log(
    `redis ${await redisVersion(redisUrl, db)} at ${new URL(redisUrl).host}, databases ${db}–${db + 2}`,
  )
  const { figures, cpu } = await benchRedis({
    redisUrl,
    db,
    quick: values.quick,
    cpuProf: values['cpu-prof'],
  })
  const ratio = (a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : '–'
  const fmt = (v?: number) => (v === undefined ? '–' : v)
  printTable(
    `Redis: one producer process, one worker process at concurrency 50${values.quick ? ' (--quick: sizes ÷ 10)' : ''}`,
    [
      'figure',
      'celeriac',
      'BullMQ',
      ...(celery ? ['Celery'] : []),
      'celeriac/BullMQ',
      ...(celery ? ['celeriac/Celery'] : []),
    ],
    figures.map(({ name, values: v }) => [
      name,
      fmt(v.celeriac),
      fmt(v.bullmq),
      ...(celery ? [fmt(v.celery)] : []),
      ratio(v.celeriac, v.bullmq),
      ...(celery ? [ratio(v.celeriac, v.celery)] : []),
    ]),
  )
  printTable(
    'Where the time goes: CPU of the worker process and of redis-server during each processing run (% of one core)',
    ['system', 'run', 'jobs/s', 'worker CPU %', 'Redis CPU %'],
    cpu.map((r) => [r.system, r.run, r.jobsPerSec, r.workerCpu, r.redisCpu]),
  )
}

if (values.broker === 'flow' || values.broker === 'all') {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  printFlow(await benchFlow({ redisUrl, quick: values.quick }), values.quick ? '2,000' : '50,000')
}

{
  const n = values.quick ? 20 : 100
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  printStartDelay(await benchStartDelay(n, redisUrl), n)
}
