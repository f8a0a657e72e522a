/**
 * Celery mode (`--broker celery`): Python-produced Celery tasks drained from one Redis database
 * by a celeriac worker in Celery mode (celery+redis://) and by a Python Celery worker (thread
 * pool), one after the other, each at concurrency 50, results stored in Celery's format by both.
 * The backlog is made by Celery itself (bench/celery_producer.py `fill`: one apply_async message
 * copied with fresh ids), so both workers read the very same messages. The goal is ≥ 10×
 * the Python worker; docs/benchmarks.md records the figures by hand.
 */
import { Redis } from 'ioredis'
import { runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { rate } from './run.js'

export interface CeleryModeRow {
  readonly system: 'celeriac (celery+redis)' | 'Celery (Python)'
  readonly jobs: number
  readonly jobsPerSec: number
  readonly workerCpuPct: number
}

const CONCURRENCY = 50

export async function benchCeleryMode(redisUrl: string, db: number, n: number): Promise<CeleryModeRow[]> {
  const base = new URL(redisUrl)
  const plain = `redis://${base.host}/${db}`
  const redis = new Redis(plain)
  const env = { BENCH_CELERY_URL: plain, BENCH_RESULTS: '1' }
  const rows: CeleryModeRow[] = []
  try {
    for (const system of ['celeriac (celery+redis)', 'Celery (Python)'] as const) {
      await redis.flushdb()
      await runChild<ProducerReport>('celery_producer.py', ['fill', n], { env })
      const worker =
        system === 'Celery (Python)'
          ? start<WorkerReport>('celery_worker.py', [n, CONCURRENCY, 'results'], { env })
          : start<WorkerReport>('redis-worker.ts', [`celery+${plain}`, n, CONCURRENCY, 'results'], {
              env: { BENCH_QUEUE: 'celery' },
            })
      const r = await worker.result
      rows.push({
        system,
        jobs: r.processed,
        jobsPerSec: rate(r.processed, r.ms),
        workerCpuPct: Math.round((r.cpuMs / r.ms) * 100),
      })
    }
  } finally {
    await redis.flushdb()
    redis.disconnect()
  }
  return rows
}
