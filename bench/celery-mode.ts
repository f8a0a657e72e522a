/**
 * Celery mode (`--broker celery`): Python-produced Celery tasks drained by a celeriac worker in
 * Celery mode and by a Python Celery worker (thread pool), one after the other, each at
 * concurrency 50, results stored in Celery's Redis format by both. Two transports:
 *
 * - Redis (celery+redis://): the backlog is made by Celery itself (bench/celery_producer.py `fill`:
 *   one apply_async message copied with fresh ids), so both workers read the very same messages.
 * - RabbitMQ (celery+amqp://, when AMQP_URL's server answers): the backlog is made by Celery's
 *   apply_async on one producer connection (`bulk`), on a queue of its own; results in Redis.
 *
 * The goal is ≥ 10× the Python worker; docs/benchmarks.md records the figures by hand.
 */
import amqplib from 'amqplib'
import { Redis } from 'ioredis'
import { runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { rate } from './run.js'

export interface CeleryModeRow {
  readonly transport: 'Redis' | 'RabbitMQ'
  readonly system: 'celeriac' | 'Celery (Python)'
  readonly jobs: number
  readonly jobsPerSec: number
  readonly workerCpuPct: number
}

const CONCURRENCY = 50
const SYSTEMS = ['celeriac', 'Celery (Python)'] as const

function row(transport: CeleryModeRow['transport'], system: CeleryModeRow['system'], r: WorkerReport) {
  return {
    transport,
    system,
    jobs: r.processed,
    jobsPerSec: rate(r.processed, r.ms),
    workerCpuPct: Math.round((r.cpuMs / r.ms) * 100),
  }
}

export async function benchCeleryMode(
  redisUrl: string,
  db: number,
  n: number,
  amqpUrl?: string,
): Promise<CeleryModeRow[]> {
  const base = new URL(redisUrl)
  const plain = `redis://${base.host}/${db}`
  const redis = new Redis(plain)
  const rows: CeleryModeRow[] = []
  try {
    const env = { BENCH_CELERY_URL: plain, BENCH_RESULTS: '1' }
    for (const system of SYSTEMS) {
      await redis.flushdb()
      await runChild<ProducerReport>('celery_producer.py', ['fill', n], { env })
      const worker =
        system === 'Celery (Python)'
          ? start<WorkerReport>('celery_worker.py', [n, CONCURRENCY, 'results'], { env })
          : start<WorkerReport>('redis-worker.ts', [`celery+${plain}`, n, CONCURRENCY, 'results'], {
              env: { BENCH_QUEUE: 'celery' },
            })
      rows.push(row('Redis', system, await worker.result))
    }
    if (amqpUrl) rows.push(...(await overAmqp(amqpUrl, plain, redis, n)))
  } finally {
    await redis.flushdb()
    redis.disconnect()
  }
  return rows
}

/** The same on RabbitMQ, on a queue of its own that is deleted afterwards. */
async function overAmqp(amqpUrl: string, results: string, redis: Redis, n: number): Promise<CeleryModeRow[]> {
  const conn = await amqplib.connect(amqpUrl).catch(() => null)
  if (!conn) {
    console.log(`RabbitMQ not reachable at ${new URL(amqpUrl).host}: the celery+amqp rows are left out`)
    return []
  }
  const queue = `bench-celery-${process.pid}`
  const ch = await conn.createChannel()
  const env = { BENCH_CELERY_URL: amqpUrl, BENCH_RESULT_URL: results, BENCH_RESULTS: '1', BENCH_QUEUE: queue }
  const url = `celery+${amqpUrl}?results=${encodeURIComponent(results)}`
  const rows: CeleryModeRow[] = []
  try {
    for (const system of SYSTEMS) {
      await redis.flushdb()
      await runChild<ProducerReport>('celery_producer.py', ['bulk', n], { env })
      const worker =
        system === 'Celery (Python)'
          ? start<WorkerReport>('celery_worker.py', [n, CONCURRENCY, 'results'], { env })
          : start<WorkerReport>('redis-worker.ts', [url, n, CONCURRENCY, 'results'], {
              env: { BENCH_QUEUE: queue },
            })
      rows.push(row('RabbitMQ', system, await worker.result))
      await ch.purgeQueue(queue)
    }
  } finally {
    await ch.deleteQueue(queue).catch(() => {})
    await ch.deleteExchange(queue).catch(() => {})
    await conn.close()
  }
  return rows
}
