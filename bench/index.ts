/**
 * `npm run bench [-- --broker sqlite|redis|postgres|rabbitmq|events|canvas|flow|celery|dashboard|all] [--pools] [--n 100000]
 * [--quick] [--db 10] [--cpu-prof dir] [--rounds 5]`: benchmarks, printed as tables.
 *
 * - The default is the SQLite benchmark.
 * - `--broker redis`: celeriac, BullMQ and Celery (when installed) against $REDIS_URL's server
 *   (databases --db, +1, +2).
 * - `--broker postgres`: celeriac, Graphile Worker (unbatched, batched), pg-boss and BullMQ's
 *   PostgreSQL backend against $DATABASE_URL, 1,000,000 jobs by default (`--n` for fewer,
 *   `--systems a,b` for some of them, `--rate` for the latency figure's jobs/s, default 1,000,
 *   `--backlog` for the last figure's backlog, default --n; a twentieth of it is processed).
 * - `--broker rabbitmq`: celeriac, Celery over AMQP (when installed) and amqplib alone against
 *   $AMQP_URL's server, results in Redis databases --db and --db + 2 (bench/rabbitmq.ts; 20,000
 *   jobs, `--n` for fewer).
 * - `--broker events`: what task events cost on Redis "results kept" (bench/events.ts).
 * - `--broker canvas`: workflows (bench/canvas.ts: a chord of 10,000, a chain of 1,000).
 * - `--broker dashboard`: the dashboard's API calls over a Redis queue of 1,000,000 waiting jobs
 *   (bench/dashboard.ts; `--n` for another size). Not part of `all`.
 * - `--broker flow`: flow control on Redis (bench/flow.ts): the cost of a rate limit on
 *   throughput, and three workers holding rateLimit '50/s' together.
 * - `--broker celery`: Python-produced Celery tasks drained by a celeriac worker in Celery mode and
 *   by a Python Celery worker on the same Redis, then on RabbitMQ ($AMQP_URL) when it answers
 *   (bench/celery-mode.ts; database --db, 100,000 tasks, `--n` for fewer).
 * - `--pools` (and `--broker all`): thread and process pools against async slots (bench/pools.ts).
 * - `--matrix [--broker redis|sqlite|all] [--payloads 1k,16k] [--workers 1,2]`: only the payload
 *   matrix (bench/matrix.ts): argument size (empty, 1 KB string, 16 KB and 64 KB JSON objects) ×
 *   worker processes (1 × 50 and 2 × 25), bulk enqueue and processing with results kept, for
 *   celeriac and BullMQ on Redis and celeriac on SQLite, as one table; `--cpu-prof dir` then
 *   profiles every producer and worker process.
 *
 * Every run but the matrix ends with the delayed-start figure (countdown 50 ms → start delay) on
 * memory, SQLite and Redis (bench/start-delay.ts; Redis when $REDIS_URL's server answers).
 * Results are recorded by hand in docs/benchmarks.md with the machine and versions.
 */
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { benchPostgres, pgVersion, PG_SYSTEMS, type PgSystem } from './postgres.js'
import { benchRedis, celeryInstalled, redisVersion } from './redis.js'
import { benchFlow, printFlow } from './flow.js'
import { benchPools, printPools } from './pools.js'
import { benchSqlite } from './sqlite.js'
import { benchStartDelay, printStartDelay } from './start-delay.js'
import { benchCanvas, printCanvas } from './canvas.js'
import { benchEvents, benchEventsSideBySide, median, summarize } from './events.js'
import { benchCeleryMode } from './celery-mode.js'
import { benchRabbit, rabbitVersion } from './rabbitmq.js'
import { benchDashboard } from './dashboard.js'
import { printTable } from './run.js'
import { benchMatrix, matrixHeader, matrixRows, type MatrixSystem } from './matrix.js'
import { isPayloadKind, PAYLOADS } from './payload.js'

const { values } = parseArgs({
  options: {
    broker: { type: 'string', default: 'sqlite' },
    n: { type: 'string' },
    quick: { type: 'boolean', default: false },
    db: { type: 'string', default: '10' },
    'cpu-prof': { type: 'string' },
    pools: { type: 'boolean', default: false },
    systems: { type: 'string' },
    rounds: { type: 'string' },
    rate: { type: 'string' },
    backlog: { type: 'string' },
    matrix: { type: 'boolean', default: false },
    payloads: { type: 'string' },
    workers: { type: 'string' },
  },
})

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
)

if (values.matrix) {
  const broker = process.argv.includes('--broker') ? values.broker : 'all'
  if (!['redis', 'sqlite', 'all'].includes(broker))
    throw new Error(`--matrix: --broker must be redis, sqlite or all, got "${broker}"`)
  const systems: MatrixSystem[] = [
    ...(broker !== 'sqlite' ? (['celeriac', 'bullmq'] as const) : []),
    ...(broker !== 'redis' ? (['sqlite'] as const) : []),
  ]
  const payloads = values.payloads?.split(',').map((s) => s.trim())
  const badPayload = payloads?.find((p) => !isPayloadKind(p))
  if (badPayload !== undefined)
    throw new Error(`--payloads: unknown "${badPayload}" (known: ${PAYLOADS.join(', ')})`)
  const workers = values.workers?.split(',').map(Number)
  if (workers?.some((w) => !Number.isInteger(w) || w < 1 || w > 50))
    throw new Error(
      `--workers: a comma-separated list of process counts from 1 to 50, got "${values.workers}"`,
    )
  const cells = await benchMatrix({
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    db: Number(values.db),
    quick: values.quick,
    systems,
    payloads: payloads?.filter(isPayloadKind),
    workers,
    cpuProf: values['cpu-prof'],
  })
  printTable(
    `Payload matrix: bulk enqueue (batches of 1,000) and processing with results kept (each task returns its argument), total concurrency 50${values.quick ? ' (--quick: sizes ÷ 10)' : ''}`,
    matrixHeader(systems),
    matrixRows(cells, systems),
  )
  process.exit(0)
}

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

if (values.broker === 'rabbitmq' || values.broker === 'all') {
  const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
  const n = Number(values.n ?? (values.quick ? 2000 : 20_000))
  console.log(`RabbitMQ ${await rabbitVersion(amqpUrl)} at ${new URL(amqpUrl).host}`)
  const figures = await benchRabbit({
    amqpUrl,
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    db: Number(values.db),
    n,
    steadySeconds: values.quick ? 3 : 10,
  })
  const ratio = (a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : '–'
  printTable(
    'RabbitMQ: one producer process, one worker process at concurrency 50 (goals: processing ≥ 10× Celery, enqueue ≥ 0.8× amqplib); "amqplib, same messages": celeriac\'s message size to a priority queue like celeriac\'s; "max-priority=0": celeriac on plain queues',
    [
      'figure',
      'celeriac',
      'celeriac, max-priority=0',
      'Celery',
      'amqplib alone',
      'amqplib, same messages',
      'celeriac/Celery',
      'plain/Celery',
      'celeriac/amqplib same messages',
      'plain/amqplib alone',
    ],
    figures.map(({ name, values: v }) => [
      name,
      v.celeriac ?? '–',
      v['celeriac-plain'] ?? '–',
      v.celery ?? '–',
      v.amqplib ?? '–',
      v['amqplib-like'] ?? '–',
      ratio(v.celeriac, v.celery),
      ratio(v['celeriac-plain'], v.celery),
      ratio(v.celeriac, v['amqplib-like']),
      ratio(v['celeriac-plain'], v.amqplib),
    ]),
  )
}

if (values.pools || values.broker === 'all') {
  printPools(await benchPools(values.quick ? 200 : 2000, values.quick ? 20 : 200))
}

if (values.broker === 'postgres' || values.broker === 'all') {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const n = Number(values.n ?? (values.quick ? 100_000 : 1_000_000))
  const systems = values.systems?.split(',').map((s) => s.trim()) as PgSystem[] | undefined
  const unknown = systems?.filter((s) => !PG_SYSTEMS.includes(s))
  if (unknown?.length)
    throw new Error(`--systems: unknown ${unknown.join(', ')} (known: ${PG_SYSTEMS.join(', ')})`)
  console.log(`PostgreSQL ${await pgVersion(databaseUrl)} at ${new URL(databaseUrl).host}`)
  const small = n < 10_000
  const backlog = Number(values.backlog ?? n)
  if (!Number.isSafeInteger(backlog) || backlog < 1)
    throw new Error(`--backlog: a positive integer, not ${values.backlog}`)
  const figures = await benchPostgres({
    databaseUrl,
    n,
    backlog,
    processed: Math.max(1, Math.round(backlog / 20)),
    steadyRate: values.rate ? Number(values.rate) : small ? Math.max(10, Math.round(n / 10)) : 1000,
    steadySeconds: small ? 2 : 10,
    systems,
  })
  const shown = systems ?? PG_SYSTEMS
  printTable(
    `PostgreSQL: one producer process, one worker process at concurrency 50`,
    ['figure', ...shown],
    figures.map(({ name, values: v }) => [name, ...shown.map((s) => v[s] ?? '–')]),
  )
}

if (values.broker === 'events' || values.broker === 'all') {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  const n = Number(values.n ?? (values.quick ? 5_000 : 50_000))
  const rows = await benchEvents(redisUrl, n, Number(values.rounds ?? (values.quick ? 1 : 5)))
  const s = summarize(rows)
  printTable(
    `What events cost: Redis, results kept, ${n.toLocaleString('en-US')} no-op tasks, one worker at concurrency 50 (goal < 5 %)`,
    [
      'round',
      'events off, jobs/s',
      'events on, jobs/s',
      'off: worker / Redis CPU, µs a job',
      'on: worker / Redis CPU, µs a job',
    ],
    [
      ...[...rows, { round: 'median', ...s }].map((r) => [
        r.round,
        r.off.rate,
        r.on.rate,
        `${r.off.workerUs} / ${r.off.redisUs}`,
        `${r.on.workerUs} / ${r.on.redisUs}`,
      ]),
      ['cost', '', `${s.costPct} %`, '', ''],
    ],
  )
  const side = await benchEventsSideBySide(redisUrl, n, Number(values.rounds ?? (values.quick ? 1 : 5)))
  const extra = side.map((r) => Math.round((r.on - r.off) * 100) / 100)
  printTable(
    `What events cost the worker: CPU µs a job, a worker with events off and one with them on draining ${n.toLocaleString('en-US')} tasks each at the same time`,
    ['round', 'events off', 'events on', 'on − off', 'on − off, %'],
    [
      ...side.map((r, i) => [
        i + 1,
        r.off,
        r.on,
        extra[i]!,
        `${Math.round(((r.on - r.off) / r.off) * 1000) / 10} %`,
      ]),
      [
        'median',
        median(side.map((r) => r.off)),
        median(side.map((r) => r.on)),
        median(extra),
        `${Math.round((median(extra) / median(side.map((r) => r.off))) * 1000) / 10} %`,
      ],
    ],
  )
}

if (values.broker === 'dashboard') {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  const n = Number(values.n ?? (values.quick ? 100_000 : 1_000_000))
  const { rows, heapMb } = await benchDashboard(redisUrl, n)
  printTable(
    `Dashboard API over a Redis queue of ${n.toLocaleString('en-US')} waiting jobs (dashboard heap after the calls: ${heapMb} MB)`,
    ['call', 'ms', ''],
    rows.map((r) => [r.call, r.ms, r.note]),
  )
}

if (values.broker === 'canvas' || values.broker === 'all') {
  const chordN = values.quick ? 1000 : 10_000
  const chainN = values.quick ? 100 : 1000
  printCanvas(
    await benchCanvas(chordN, chainN, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'),
    chordN,
    chainN,
  )
}

if (values.broker === 'flow' || values.broker === 'all') {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  printFlow(await benchFlow({ redisUrl, quick: values.quick }), values.quick ? '2,000' : '50,000')
}

if (values.broker === 'celery' || values.broker === 'all') {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  if (!celeryInstalled()) console.log('Celery not installed for /usr/bin/python3 (python3-celery): skipped')
  else {
    const n = Number(values.n ?? (values.quick ? 10_000 : 100_000))
    const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
    const rows = await benchCeleryMode(redisUrl, Number(values.db), n, amqpUrl)
    const ratioOf = (t: string) => {
      const [ours, theirs] = [
        rows.find((r) => r.transport === t && r.system === 'celeriac'),
        rows.find((r) => r.transport === t && r.system !== 'celeriac'),
      ]
      return ours && theirs && theirs.jobsPerSec > 0
        ? `${(ours.jobsPerSec / theirs.jobsPerSec).toFixed(2)}×`
        : '–'
    }
    printTable(
      `Celery mode: ${n.toLocaleString('en-US')} Python-produced no-op tasks (Redis database ${values.db}; RabbitMQ on a queue of its own), one worker at concurrency 50, results in Celery's Redis format (goal ≥ 10×)`,
      ['transport', 'worker', 'jobs/s', 'worker CPU %', 'celeriac / Celery'],
      rows.map((r) => [
        r.transport,
        r.system,
        r.jobsPerSec,
        r.workerCpuPct,
        r.system === 'celeriac' ? ratioOf(r.transport) : '',
      ]),
    )
  }
}

{
  const n = values.quick ? 20 : 100
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  printStartDelay(await benchStartDelay(n, redisUrl), n)
}
