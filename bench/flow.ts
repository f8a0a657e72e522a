/**
 * Flow control on Redis: what a rate limit costs a worker's throughput, and how exactly three
 * workers hold a shared rate together.
 *
 * - no-op throughput of one worker process (concurrency 50) whose task declares no limit, and
 *   with a global rateLimit far above what it can do (the jobs of one event-loop turn then take
 *   their tokens together: one more Redis round trip per batch, which the jobs wait for);
 * - three worker processes (concurrency 20 each) with rateLimit '50/s' and a backlog: task starts
 *   counted over `seconds` from the first one, against 50/s.
 *
 * Each run uses its own key prefix on $REDIS_URL's server and deletes it afterwards.
 * Run alone: `node --import tsx bench/flow.ts [--quick]`; `npm run bench -- --broker flow`.
 */
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { printTable, rate } from './run.js'

export interface FlowBench {
  readonly throughput: { case: string; jobsPerSec: number; cpuMsPerKJob: number }[]
  readonly rate: {
    workers: number
    seconds: number
    starts: number
    perSec: number
    offPct: number
    /** Starts per second with the bucket's first burst (10 at '50/s') left out, and how far off. */
    steady: number
    steadyOffPct: number
  }
}

async function dropPrefix(base: string, prefix: string): Promise<void> {
  const redis = new Redis(base)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000)
      if (keys.length) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

function prefixed(base: string): { url: string; prefix: string } {
  const prefix = `bench-flow-${randomUUID().slice(0, 8)}`
  return { url: `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`, prefix }
}

async function throughput(base: string, n: number, mode: 'none' | 'active') {
  const { url, prefix } = prefixed(base)
  try {
    await runChild<ProducerReport>('redis-producer.ts', ['bulk', url, n, 1000])
    const w = start<WorkerReport>('flow-worker.ts', ['throughput', url, n, 50, mode])
    const r = await w.result
    return { jobsPerSec: rate(r.processed, r.ms), cpuMsPerKJob: Math.round((r.cpuMs / r.processed) * 1000) }
  } finally {
    await dropPrefix(base, prefix)
  }
}

/** The default burst of '50/s': 200 ms worth. */
const BURST = 10

async function exactRate(base: string, seconds: number) {
  const { url, prefix } = prefixed(base)
  try {
    await runChild<ProducerReport>('redis-producer.ts', ['bulk', url, 50 * (seconds + 10), 1000])
    const until = Date.now() + 8000 + seconds * 1000
    const workers = Array.from({ length: 3 }, () =>
      start<{ starts: number[] }>('flow-worker.ts', ['rate', url, 20, until]),
    )
    const all = (await Promise.all(workers.map((w) => w.result)))
      .flatMap((r) => r.starts)
      .sort((a, b) => a - b)
    // From the first start once all three are up (the last to print ready), a window of `seconds`.
    const from = all[0] ?? 0
    const starts = all.filter((t) => t >= from && t < from + seconds * 1000).length
    const perSec = starts / seconds
    const steady = (starts - BURST) / seconds
    const off = (v: number) => Math.round(((v - 50) / 50) * 1000) / 10
    return { workers: 3, seconds, starts, perSec, offPct: off(perSec), steady, steadyOffPct: off(steady) }
  } finally {
    await dropPrefix(base, prefix)
  }
}

export async function benchFlow(options: { redisUrl: string; quick: boolean }): Promise<FlowBench> {
  const n = options.quick ? 2000 : 50_000
  const none = await throughput(options.redisUrl, n, 'none')
  const active = await throughput(options.redisUrl, n, 'active')
  return {
    throughput: [
      { case: 'no limit on the task', ...none },
      { case: "rateLimit '1000000/s' (tokens taken per batch)", ...active },
    ],
    rate: await exactRate(options.redisUrl, options.quick ? 2 : 10),
  }
}

export function printFlow(r: FlowBench, n: string): void {
  printTable(
    `Flow control on Redis: ${n} no-op tasks, one worker process at concurrency 50`,
    ['case', 'jobs/s', 'worker CPU ms per 1000 jobs'],
    r.throughput.map((t) => [t.case, t.jobsPerSec, t.cpuMsPerKJob]),
  )
  printTable(
    "Global rateLimit '50/s' held by 3 worker processes (concurrency 20 each) over a backlog",
    ['workers', 'window s', 'starts', 'starts/s', 'off 50/s by %', 'without the burst of 10', 'off by %'],
    [
      [
        r.rate.workers,
        r.rate.seconds,
        r.rate.starts,
        r.rate.perSec.toFixed(1),
        r.rate.offPct,
        r.rate.steady.toFixed(1),
        r.rate.steadyOffPct,
      ],
    ],
  )
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } })
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
  printFlow(await benchFlow({ redisUrl, quick: values.quick }), values.quick ? '2,000' : '50,000')
}
