/**
 * The payload matrix (`npm run bench -- --matrix [--broker redis|sqlite|all] [--quick]`): for each
 * argument size (bench/payload.ts: empty, 1 KB string, 16 KB and 64 KB JSON objects) and 1 or 2
 * worker processes sharing a total concurrency of 50 (50, or 25 each), bulk enqueue of N jobs in
 * batches of 1,000 by one producer process, then processing those N with results kept (each task
 * returns its argument: the result is as large as the payload). Celeriac and BullMQ on Redis
 * (databases --db and --db+1), celeriac on SQLite (a fresh file per cell).
 *
 * N is 20,000 jobs, fewer for large payloads so that a cell holds at most 128 MB of arguments
 * (and as much again of results): 8,000 of 16 KB, 2,000 of 64 KB. `--quick` divides by 10.
 * Processing time runs from the moment every worker process is ready and told to start (tasks
 * wait for that, so process start-up is not measured) to the N-th settle of all of them together.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin, targets } from './redis-admin.js'
import { PAYLOADS, PAYLOAD_BYTES, type PayloadKind } from './payload.js'
import { drainGated, runChild, start, type GatedReport, type ProducerReport } from './proc.js'
import { rate } from './run.js'

export type MatrixSystem = 'celeriac' | 'bullmq' | 'sqlite'

export interface MatrixCell {
  readonly payload: PayloadKind
  readonly workers: number
  readonly jobs: number
  readonly enqueue: Partial<Record<MatrixSystem, number>>
  readonly process: Partial<Record<MatrixSystem, number>>
  /** CPU ms of the worker processes together per 1,000 jobs. */
  readonly workerCpu: Partial<Record<MatrixSystem, number>>
}

export interface MatrixOptions {
  readonly redisUrl?: string
  readonly db: number
  readonly quick: boolean
  readonly systems: readonly MatrixSystem[]
  readonly payloads?: readonly PayloadKind[]
  readonly workers?: readonly number[]
  /** --cpu-prof directory for producers and workers (one profile per process). */
  readonly cpuProf?: string
}

export const TOTAL_CONCURRENCY = 50

export function matrixJobs(kind: PayloadKind, quick: boolean): number {
  const cap = 128 * 2 ** 20
  const n = Math.min(20_000, Math.floor(cap / Math.max(1, PAYLOAD_BYTES[kind])))
  return Math.max(10, Math.floor(n / (quick ? 10 : 1)))
}

async function cell(
  system: MatrixSystem,
  kind: PayloadKind,
  workers: number,
  n: number,
  options: MatrixOptions,
): Promise<{ enqueue: number; process: number; cpuPer1k: number }> {
  const env = { BENCH_PAYLOAD: kind, BENCH_GATED: '1' }
  const nodeArgs = options.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProf] : []
  const c = Math.ceil(TOTAL_CONCURRENCY / workers)
  let sqliteDir: string | undefined
  let admin: Admin | undefined
  try {
    let produce: () => Promise<ProducerReport>
    let worker: () => ReturnType<typeof start<GatedReport>>
    if (system === 'sqlite') {
      sqliteDir = mkdtempSync(join(tmpdir(), 'celeriac-matrix-'))
      const db = join(sqliteDir, 'bench.db')
      produce = () => runChild('sqlite-producer.ts', [db, n, 1000], { env, nodeArgs })
      worker = () => start('sqlite-worker.ts', [db, 0, c, 'results'], { env, nodeArgs, stdin: true })
    } else {
      const t = targets(options.redisUrl!, options.db)[system]
      admin = new Admin(t)
      await admin.claim()
      if (system === 'celeriac') {
        const url = `${t.url}?prefix=bench`
        produce = () => runChild('redis-producer.ts', ['bulk', url, n, 1000], { env, nodeArgs })
        worker = () => start('redis-worker.ts', [url, 0, c, 'results'], { env, nodeArgs, stdin: true })
      } else {
        produce = () => runChild('bullmq-producer.ts', ['bulk', t.url, n, 1000, 'keep'], { env, nodeArgs })
        worker = () => start('bullmq-worker.ts', [t.url, 0, c, 'results'], { env, nodeArgs, stdin: true })
      }
    }
    const e = await produce()
    const children = Array.from({ length: workers }, () => worker())
    const d = await drainGated(children, n)
    return { enqueue: rate(n, e.ms), process: rate(n, d.ms), cpuPer1k: Math.round((d.cpuMs / n) * 1000) }
  } finally {
    if (admin) await admin.release()
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true })
  }
}

export async function benchMatrix(options: MatrixOptions): Promise<MatrixCell[]> {
  const out: MatrixCell[] = []
  for (const payload of options.payloads ?? PAYLOADS) {
    const jobs = matrixJobs(payload, options.quick)
    for (const workers of options.workers ?? [1, 2]) {
      const row = { payload, workers, jobs, enqueue: {}, process: {}, workerCpu: {} } as {
        payload: PayloadKind
        workers: number
        jobs: number
        enqueue: Partial<Record<MatrixSystem, number>>
        process: Partial<Record<MatrixSystem, number>>
        workerCpu: Partial<Record<MatrixSystem, number>>
      }
      for (const system of options.systems) {
        const r = await cell(system, payload, workers, jobs, options)
        row.enqueue[system] = r.enqueue
        row.process[system] = r.process
        row.workerCpu[system] = r.cpuPer1k
        console.error(
          `[matrix] ${system} ${payload} × ${workers} worker(s), ${jobs} jobs: enqueue ${r.enqueue}/s, ` +
            `processing ${r.process}/s, worker CPU ${r.cpuPer1k} ms per 1,000 jobs`,
        )
      }
      out.push(row)
    }
  }
  return out
}

/** The matrix as one table's rows (header: matrixHeader). */
export function matrixRows(
  cells: readonly MatrixCell[],
  systems: readonly MatrixSystem[],
): (string | number)[][] {
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? `${(a / b).toFixed(2)}×` : '–')
  const has = (s: MatrixSystem) => systems.includes(s)
  const redis = has('celeriac') && has('bullmq')
  return cells.map((c) => [
    c.payload,
    c.workers === 1 ? '1 × 50' : `${c.workers} × ${Math.ceil(TOTAL_CONCURRENCY / c.workers)}`,
    c.jobs,
    ...(has('celeriac') ? [c.enqueue.celeriac ?? '–'] : []),
    ...(has('bullmq') ? [c.enqueue.bullmq ?? '–'] : []),
    ...(redis ? [ratio(c.enqueue.celeriac, c.enqueue.bullmq)] : []),
    ...(has('celeriac') ? [c.process.celeriac ?? '–'] : []),
    ...(has('bullmq') ? [c.process.bullmq ?? '–'] : []),
    ...(redis ? [ratio(c.process.celeriac, c.process.bullmq)] : []),
    ...(has('sqlite') ? [c.enqueue.sqlite ?? '–', c.process.sqlite ?? '–'] : []),
    ...systems.map((s) => c.workerCpu[s] ?? '–'),
  ])
}

export function matrixHeader(systems: readonly MatrixSystem[]): string[] {
  const has = (s: MatrixSystem) => systems.includes(s)
  const redis = has('celeriac') && has('bullmq')
  const label: Record<MatrixSystem, string> = {
    celeriac: 'celeriac Redis',
    bullmq: 'BullMQ',
    sqlite: 'celeriac SQLite',
  }
  return [
    'payload',
    'workers × concurrency',
    'jobs',
    ...(has('celeriac') ? ['celeriac Redis enqueue/s'] : []),
    ...(has('bullmq') ? ['BullMQ enqueue/s'] : []),
    ...(redis ? ['enqueue ratio'] : []),
    ...(has('celeriac') ? ['celeriac Redis processing/s'] : []),
    ...(has('bullmq') ? ['BullMQ processing/s'] : []),
    ...(redis ? ['processing ratio'] : []),
    ...(has('sqlite') ? ['SQLite enqueue/s', 'SQLite processing/s'] : []),
    ...systems.map((s) => `${label[s]} worker CPU ms/1k jobs`),
  ]
}
