/**
 * Thread and process pools against async slots, in one worker on the memory broker (so the
 * figures are the pool's own cost): a CPU-bound task (20 ms of hashing) at concurrency 2, where
 * threads should use both cores and async only one; and no-op tasks, whose per-task time above
 * async is what crossing to a child costs. Pool start-up is not timed.
 *
 * Run alone: `node --import tsx bench/pools.ts [--n 200] [--cpu-n 100]`; `npm run bench -- --pools`.
 */
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createApp } from 'celeriac'
import { createPool, type PoolKind } from 'celeriac/pool'
import { createLogger, Worker } from 'celeriac/worker'
import { defineTasks } from './pool-tasks.js'
import { printTable, rate } from './run.js'

const TASKS_MODULE = fileURLToPath(new URL('./pool-tasks.ts', import.meta.url))

export interface PoolRow {
  readonly case: string
  readonly pool: string
  readonly jobsPerSec: number
  /** Mean wall time per task, µs. */
  readonly usPerTask: number
}

async function measure(
  kind: 'async' | PoolKind,
  concurrency: number,
  n: number,
  send: (t: ReturnType<typeof defineTasks>) => Promise<unknown>,
): Promise<number> {
  const app = createApp({ broker: `memory://${randomUUID()}` })
  const tasks = defineTasks(app)
  const log = createLogger({ level: 'silent' })
  const pool = kind === 'async' ? undefined : createPool({ kind, size: concurrency, app: TASKS_MODULE, log })
  const worker = new Worker(app, { concurrency, pool, logger: log, logTasks: false })
  await worker.start()
  let settled = 0
  let allSettled!: () => void
  const done = new Promise<void>((r) => (allSettled = r))
  worker.on('settled', () => ++settled === n && allSettled())
  const t0 = performance.now()
  await send(tasks)
  await done
  const ms = performance.now() - t0
  await worker.stop()
  await app.close()
  return ms
}

export async function benchPools(n: number, cpuN: number): Promise<PoolRow[]> {
  const rows: PoolRow[] = []
  const row = (name: string, pool: string, count: number, ms: number) =>
    rows.push({ case: name, pool, jobsPerSec: rate(count, ms), usPerTask: Math.round((ms * 1000) / count) })
  for (const kind of ['async', 'threads'] as const) {
    const ms = await measure(kind, 2, cpuN, (t) =>
      t.hash.sendMany(Array.from({ length: cpuN }, () => [20] as [number])),
    )
    row('20 ms hashing, -c 2', kind, cpuN, ms)
  }
  for (const kind of ['async', 'threads', 'processes'] as const) {
    const ms = await measure(kind, 2, n, (t) => t.noop.sendMany(Array.from({ length: n }, () => [] as [])))
    row('no-op, -c 2', kind, n, ms)
  }
  return rows
}

export function printPools(rows: PoolRow[]): void {
  const base = new Map(rows.filter((r) => r.pool === 'async').map((r) => [r.case, r]))
  printTable(
    'Pools: one worker on the memory broker; threads/processes against async slots',
    ['case', 'pool', 'jobs/s', 'µs per task', 'vs async'],
    rows.map((r) => {
      const a = base.get(r.case)
      const vs =
        !a || r.pool === 'async'
          ? '–'
          : r.case.startsWith('no-op')
            ? `+${r.usPerTask - a.usPerTask} µs/task`
            : `${(r.jobsPerSec / a.jobsPerSec).toFixed(2)}×`
      return [r.case, r.pool, r.jobsPerSec, r.usPerTask, vs]
    }),
  )
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { n: { type: 'string', default: '2000' }, 'cpu-n': { type: 'string', default: '200' } },
  })
  printPools(await benchPools(Number(values.n), Number(values['cpu-n'])))
}
