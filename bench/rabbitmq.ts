/**
 * RabbitMQ benchmark (`npm run bench -- --broker rabbitmq`): celeriac, Celery 5 over AMQP (when
 * installed; acks_late, publisher confirms) and amqplib alone (bench/amqp-bare.ts: a durable
 * queue, persistent messages, one confirm wait per batch; consumed with a prefetch and an ack per
 * message), the limit of what any framework on amqplib can reach. Results are kept in Redis for
 * celeriac and Celery (databases --db and --db + 2, claimed as bench/redis.ts does); amqplib alone
 * keeps none. Every queue has a name of its own and is deleted at the end; the server's other
 * queues are not touched.
 */
import { randomUUID } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { connect } from 'amqplib'
import { LEVELS } from '../src/brokers/amqp/delays.js'
import { Admin, targets } from './redis-admin.js'
import { PYTHON, runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { rate } from './run.js'

export type RabbitSystem = 'celeriac' | 'celeriac-plain' | 'celery' | 'amqplib' | 'amqplib-like'

/**
 * The body of a celeriac no-op message (the envelope of bench/redis-producer.ts's task), in bytes,
 * and its queues' x-max-priority: 'amqplib-like' sends the same to the same kind of queue.
 */
const LIKE_SIZE = 120
const LIKE_PRIORITY = 9

export interface RabbitFigure {
  readonly name: string
  readonly values: Partial<Record<RabbitSystem, number>>
}

export interface RabbitBenchOptions {
  readonly amqpUrl: string
  readonly redisUrl: string
  readonly db: number
  /** Jobs per figure (bulk enqueue and processing). */
  readonly n: number
  readonly steadySeconds: number
}

const CONCURRENCY = 50
const BATCH = 1000
const STEADY_RATE = 1000

export function celeryAmqpInstalled(): boolean {
  return spawnSync(PYTHON, ['-c', 'import celery, amqp, redis'], { stdio: 'ignore' }).status === 0
}

interface Driver {
  bulk(n: number): Promise<ProducerReport>
  worker(n: number, mode: 'results' | 'latency'): ReturnType<typeof start<WorkerReport>>
  steady?(perSec: number, seconds: number): Promise<ProducerReport>
}

function drivers(o: RabbitBenchOptions, tag: string): Record<RabbitSystem, Driver> {
  const t = targets(o.redisUrl, o.db)
  const url = `${o.amqpUrl}${o.amqpUrl.includes('?') ? '&' : '?'}prefix=${tag}`
  const plainUrl = `${o.amqpUrl}${o.amqpUrl.includes('?') ? '&' : '?'}prefix=${tag}-plain&max-priority=0`
  const celeriacEnv = { BENCH_RESULT_BACKEND: t.celeriac.url }
  const celeryEnv = {
    BENCH_CELERY_URL: o.amqpUrl,
    BENCH_RESULT_URL: t.celery.url,
    BENCH_QUEUE: `${tag}.celery`,
    BENCH_RESULTS: '1',
  }
  const bare = `${tag}.bare`
  return {
    celeriac: {
      bulk: (n) => runChild('redis-producer.ts', ['bulk', url, n, BATCH]),
      steady: (r, s) => runChild('redis-producer.ts', ['steady', url, r, s]),
      worker: (n, mode) => start('redis-worker.ts', [url, n, CONCURRENCY, mode], { env: celeriacEnv }),
    },
    // The URL's max-priority=0: plain classic queues (no x-max-priority), under a prefix of its own.
    'celeriac-plain': {
      bulk: (n) => runChild('redis-producer.ts', ['bulk', plainUrl, n, BATCH]),
      steady: (r, s) => runChild('redis-producer.ts', ['steady', plainUrl, r, s]),
      worker: (n, mode) => start('redis-worker.ts', [plainUrl, n, CONCURRENCY, mode], { env: celeriacEnv }),
    },
    celery: {
      bulk: (n) => runChild('celery_producer.py', ['bulk', n], { env: celeryEnv }),
      steady: (r, s) => runChild('celery_producer.py', ['steady', r, s], { env: celeryEnv }),
      worker: (n, mode) => start('celery_worker.py', [n, CONCURRENCY, mode], { env: celeryEnv }),
    },
    amqplib: {
      bulk: (n) => runChild('amqp-bare.ts', ['bulk', o.amqpUrl, bare, n, BATCH]),
      worker: (n) => start('amqp-bare.ts', ['work', o.amqpUrl, bare, n, CONCURRENCY]),
    },
    'amqplib-like': {
      bulk: (n) =>
        runChild('amqp-bare.ts', ['bulk', o.amqpUrl, `${bare}.like`, n, BATCH, LIKE_SIZE, LIKE_PRIORITY]),
      worker: (n) =>
        start('amqp-bare.ts', ['work', o.amqpUrl, `${bare}.like`, n, CONCURRENCY, LIKE_SIZE, LIKE_PRIORITY]),
    },
  }
}

/** Deletes the queues and exchanges this run declared (AMQP cannot list them: by name). */
async function cleanup(amqpUrl: string, tag: string): Promise<void> {
  const conn = await connect(amqpUrl)
  const ch = await conn.createChannel()
  try {
    const work = `${tag}.default`
    for (const q of [
      work,
      `${work}.dead`,
      `${work}.paused`,
      `${tag}.celery`,
      `${tag}.bare`,
      `${tag}.bare.like`,
    ])
      await ch.deleteQueue(q)
    for (let k = 0; k < LEVELS; k++) await ch.deleteQueue(`${work}.delay.${k}`)
    await ch.deleteExchange(`${tag}.celeriac.delay.ready`)
    for (let k = 0; k < LEVELS; k++) await ch.deleteExchange(`${tag}.celeriac.delay.${k}`)
    // Celery's direct exchange of the same name as its queue.
    await ch.deleteExchange(`${tag}.celery`)
  } finally {
    await conn.close()
  }
}

export async function benchRabbit(o: RabbitBenchOptions): Promise<RabbitFigure[]> {
  const tag = `celeriac-bench-${randomUUID().slice(0, 8)}`
  const k = (x: number) => x.toLocaleString('en-US')
  const names = {
    enqueue: `bulk enqueue (${k(o.n)} jobs, batches of 1,000, confirmed), jobs/s`,
    kept: `processing (${k(o.n)} jobs; results kept, amqplib: ack only), jobs/s`,
    p: (p: string) => `latency enqueue→start ${p}, ms (${k(STEADY_RATE)} jobs/s for ${o.steadySeconds} s)`,
  }
  const rows = new Map<string, Partial<Record<RabbitSystem, number>>>(
    [names.enqueue, names.kept, names.p('p50'), names.p('p99')].map((n) => [n, {}]),
  )
  const put = (name: string, s: RabbitSystem, v: number) => (rows.get(name)![s] = v)
  const systems: RabbitSystem[] = [
    'amqplib',
    'amqplib-like',
    'celeriac',
    'celeriac-plain',
    ...(celeryAmqpInstalled() ? ['celery' as const] : []),
  ]
  const all = drivers(o, tag)
  const t = targets(o.redisUrl, o.db)
  try {
    for (const s of systems) {
      const d = all[s]
      const admin = s === 'amqplib' ? null : new Admin(s === 'celery' ? t.celery : t.celeriac)
      await admin?.claim()
      const log = (msg: string) => console.error(`[${s}] ${msg}`)
      try {
        const e = await d.bulk(o.n)
        put(names.enqueue, s, rate(o.n, e.ms))
        log(`bulk enqueue: ${k(rate(o.n, e.ms))} jobs/s (producer CPU ${Math.round(e.cpuMs)} ms)`)
        const w = await d.worker(o.n, 'results').result
        put(names.kept, s, rate(o.n, w.ms))
        log(`processing: ${k(rate(o.n, w.ms))} jobs/s (worker CPU ${Math.round((w.cpuMs / w.ms) * 100)}%)`)
        await admin?.flush()
        if (d.steady) {
          const total = STEADY_RATE * o.steadySeconds
          const lw = d.worker(total, 'latency')
          await lw.ready
          await d.steady(STEADY_RATE, o.steadySeconds)
          const lat = await lw.result
          log(`latency: p50 ${lat.p50} p99 ${lat.p99} ms`)
          put(names.p('p50'), s, Math.round(lat.p50! * 10) / 10)
          put(names.p('p99'), s, Math.round(lat.p99! * 10) / 10)
        }
      } finally {
        await admin?.release()
      }
    }
  } finally {
    await cleanup(o.amqpUrl, tag)
    await cleanup(o.amqpUrl, `${tag}-plain`)
  }
  return [...rows].map(([name, values]) => ({ name, values }))
}

/** The server's version, from the connection's server properties. */
export async function rabbitVersion(amqpUrl: string): Promise<string> {
  const conn = await connect(amqpUrl)
  try {
    const props = (conn.connection as unknown as { serverProperties?: Record<string, unknown> })
      .serverProperties
    return String(props?.version ?? 'unknown')
  } finally {
    await conn.close()
  }
}
