/**
 * Redis benchmark: celeriac, BullMQ and (when installed) Celery, one after another against the
 * same Redis server, each in its own database, each with a producer process and one worker
 * process at concurrency 50. Every figure comes from child processes (./proc.ts); this file only
 * sequences them, flushes the databases it owns and reads Redis' own CPU and memory counters.
 */
import { spawnSync } from 'node:child_process'
import { Admin, targets, type System, type Target } from './redis-admin.js'
import { PYTHON, runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { rate } from './run.js'

export interface RedisBenchOptions {
  readonly redisUrl: string
  /** First of the three databases used (celeriac, BullMQ, Celery). */
  readonly db: number
  /** Sizes divided by 10, for a smoke run. */
  readonly quick: boolean
  /** Directory for a --cpu-prof of the celeriac worker in the "results kept" run. */
  readonly cpuProf?: string
  readonly systems?: readonly System[]
}

/** One figure per system; ratio rows are computed by the caller. */
export interface Figure {
  readonly name: string
  readonly values: Partial<Record<System, number>>
}

/** Where the time went in one processing run. */
export interface CpuRow {
  readonly system: System
  readonly run: string
  readonly jobsPerSec: number
  /** Worker process CPU over the run, % of one core. */
  readonly workerCpu: number
  /** Redis server CPU over the run, % of one core. */
  readonly redisCpu: number
}

const CONCURRENCY = 50

export function celeryInstalled(): boolean {
  return spawnSync(PYTHON, ['-c', 'import celery, redis'], { stdio: 'ignore' }).status === 0
}

/** The child scripts of one system, behind one shape. */
interface Driver {
  bulk(n: number, keep: boolean): Promise<ProducerReport>
  /** n more waiting jobs, as fast as the system allows (not a measured figure). */
  fill(n: number, keep: boolean): Promise<ProducerReport>
  steady(perSec: number, seconds: number): Promise<ProducerReport>
  worker(
    n: number,
    mode: 'results' | 'no-results' | 'latency',
    nodeArgs?: string[],
  ): ReturnType<typeof start<WorkerReport>>
}

function driver(system: System, t: Target): Driver {
  if (system === 'celeriac') {
    const url = `${t.url}?prefix=bench`
    return {
      bulk: (n) => runChild('redis-producer.ts', ['bulk', url, n, 1000]),
      fill: (n) => runChild('redis-producer.ts', ['bulk', url, n, 1000]),
      steady: (r, s) => runChild('redis-producer.ts', ['steady', url, r, s]),
      worker: (n, mode, nodeArgs) => start('redis-worker.ts', [url, n, CONCURRENCY, mode], { nodeArgs }),
    }
  }
  if (system === 'bullmq') {
    return {
      bulk: (n, keep) => runChild('bullmq-producer.ts', ['bulk', t.url, n, 1000, keep ? 'keep' : 'remove']),
      fill: (n, keep) => runChild('bullmq-producer.ts', ['bulk', t.url, n, 1000, keep ? 'keep' : 'remove']),
      steady: (r, s) => runChild('bullmq-producer.ts', ['steady', t.url, r, s]),
      worker: (n, mode) => start('bullmq-worker.ts', [t.url, n, CONCURRENCY, mode]),
    }
  }
  const env = (results: boolean) => ({ BENCH_CELERY_URL: t.url, BENCH_RESULTS: results ? '1' : '0' })
  return {
    bulk: (n, keep) => runChild('celery_producer.py', ['bulk', n], { env: env(keep) }),
    fill: (n, keep) => runChild('celery_producer.py', ['fill', n], { env: env(keep) }),
    steady: (r, s) => runChild('celery_producer.py', ['steady', r, s], { env: env(true) }),
    worker: (n, mode) =>
      start('celery_worker.py', [n, CONCURRENCY, mode], { env: env(mode !== 'no-results') }),
  }
}

export async function benchRedis(options: RedisBenchOptions): Promise<{ figures: Figure[]; cpu: CpuRow[] }> {
  const q = options.quick ? 10 : 1
  const n = 20_000 / q
  /** Processing runs drain this many jobs: the n just enqueued and more, so the run is long enough to measure. */
  const drained = 100_000 / q
  const steadyRate = 1000
  const steadySeconds = options.quick ? 3 : 10
  const processed = 50_000 / q
  const backlogs = [10_000 / q, 1_000_000 / q]
  const systems =
    options.systems ?? (['celeriac', 'bullmq', ...(celeryInstalled() ? ['celery'] : [])] as System[])
  const all = targets(options.redisUrl, options.db)
  const k = (x: number) => x.toLocaleString('en-US')

  const names = {
    enqueue: `bulk enqueue (${k(n)} jobs, batches of 1,000), jobs/s`,
    kept: `processing, results kept (${k(drained)} jobs), jobs/s`,
    notKept: `processing, results not kept (${k(drained)} jobs), jobs/s`,
    p: (p: string) => `latency enqueue→start ${p}, ms (${k(steadyRate)} jobs/s for ${steadySeconds} s)`,
    backlog: (b: number) => `processing ${k(processed)} jobs over a backlog of ${k(b)}, jobs/s`,
    bytes: `Redis bytes per waiting job (MEMORY USAGE of the keys, ${k(n)} jobs)`,
    info: `Redis bytes per waiting job (INFO used_memory delta)`,
  }
  const figures = new Map<string, Partial<Record<System, number>>>(
    [
      names.enqueue,
      names.kept,
      names.notKept,
      names.p('p50'),
      names.p('p95'),
      names.p('p99'),
      ...backlogs.map(names.backlog),
      names.bytes,
      names.info,
    ].map((name) => [name, {}]),
  )
  const put = (name: string, system: System, v: number) => {
    const row = figures.get(name) ?? {}
    row[system] = v
    figures.set(name, row)
  }
  const cpu: CpuRow[] = []

  for (const system of systems) {
    const admin = new Admin(all[system])
    const d = driver(system, all[system])
    await admin.claim()
    const log = (msg: string) => console.error(`[${system}] ${msg}`)
    /** Runs a worker over jobs already waiting and records where the CPU went. */
    const work = async (run: string, jobs: number, mode: 'results' | 'no-results', nodeArgs?: string[]) => {
      const before = await admin.cpuMs()
      const r = await d.worker(jobs, mode, nodeArgs).result
      const redisMs = (await admin.cpuMs()) - before
      const row = {
        system,
        run,
        jobsPerSec: rate(jobs, r.ms),
        workerCpu: Math.round((r.cpuMs / r.ms) * 100),
        redisCpu: Math.round((redisMs / r.ms) * 100),
      }
      cpu.push(row)
      log(`${run}: ${k(row.jobsPerSec)} jobs/s (worker CPU ${row.workerCpu}%, Redis CPU ${row.redisCpu}%)`)
      return row.jobsPerSec
    }
    try {
      const e1 = await d.bulk(n, true)
      put(names.enqueue, system, rate(n, e1.ms))
      log(`bulk enqueue: ${k(rate(n, e1.ms))} jobs/s`)
      const profile =
        system === 'celeriac' && options.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProf] : []
      await d.fill(drained - n, true)
      put(names.kept, system, await work('results kept', drained, 'results', profile))
      await admin.flush()

      const mem0 = await admin.usedMemory()
      await d.bulk(n, false)
      const infoDelta = (await admin.usedMemory()) - mem0
      const keyBytes = await admin.keyBytes()
      put(names.bytes, system, Math.round(keyBytes / n))
      put(names.info, system, Math.round(infoDelta / n))
      await d.fill(drained - n, false)
      put(names.notKept, system, await work('results not kept', drained, 'no-results'))
      await admin.flush()

      const total = steadyRate * steadySeconds
      const w = d.worker(total, 'latency')
      await w.ready
      const sent = await d.steady(steadyRate, steadySeconds)
      const lat = await w.result
      log(
        `latency at ${k(rate(total, sent.ms))} jobs/s sent: p50 ${lat.p50} p95 ${lat.p95} p99 ${lat.p99} ms`,
      )
      for (const p of ['p50', 'p95', 'p99'] as const) put(names.p(p), system, Math.round(lat[p]! * 10) / 10)
      await admin.flush()

      for (const b of backlogs) {
        const filled = await d.fill(b + processed, false)
        log(`backlog of ${k(b + processed)} filled in ${Math.round(filled.ms)} ms`)
        put(names.backlog(b), system, await work(`backlog ${k(b)}`, processed, 'no-results'))
        await admin.flush()
      }
    } finally {
      await admin.release()
    }
  }
  return { figures: [...figures].map(([name, values]) => ({ name, values })), cpu }
}

export async function redisVersion(redisUrl: string, db: number): Promise<string> {
  const admin = new Admin(targets(redisUrl, db).celeriac)
  try {
    return await admin.version()
  } finally {
    admin.close()
  }
}
