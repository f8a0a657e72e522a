/**
 * What task events cost: celeriac's Redis "processing, results kept" figure (one worker process
 * at concurrency 50 draining no-op tasks, results stored) with events off and on, in alternating
 * rounds on fresh key prefixes, so drift of the machine hits both alike. The goal is under 5 %.
 * Each run also reports the CPU a job took in the worker process and in the Redis server (from
 * INFO cpu), which a busy machine disturbs far less than the rate.
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { dropPrefix } from './redis-admin.js'
import { runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { rate } from './run.js'

/** One run: jobs a second, and µs of CPU a job in the worker process and in the Redis server. */
export interface EventsRun {
  readonly rate: number
  readonly workerUs: number
  readonly redisUs: number
}

export interface EventsBenchRow {
  readonly round: number
  readonly off: EventsRun
  readonly on: EventsRun
}

/** The Redis server's CPU so far, in µs (user + system, from INFO cpu). */
async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const field = (name: string) => Number(new RegExp(`^used_cpu_${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
  return (field('user') + field('sys')) * 1e6
}

async function once(redisUrl: string, n: number, events: boolean): Promise<EventsRun> {
  const prefix = `bench-events-${randomUUID().slice(0, 8)}`
  const url = `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${prefix}`
  const redis = new Redis(redisUrl)
  try {
    await runChild<ProducerReport>('redis-producer.ts', ['bulk', url, n, 1000])
    const child = start<WorkerReport>('redis-worker.ts', [url, n, 50, 'results'], {
      env: { BENCH_EVENTS: events ? '1' : '0' },
    })
    await child.ready
    const cpu0 = await redisCpuUs(redis)
    const r = await child.result
    const redisUs = (await redisCpuUs(redis)) - cpu0
    const perJob = (us: number) => Math.round((us / n) * 100) / 100
    return { rate: rate(n, r.ms), workerUs: perJob(r.cpuMs * 1000), redisUs: perJob(redisUs) }
  } finally {
    redis.disconnect()
    await dropPrefix(redisUrl, prefix)
  }
}

/**
 * The worker's CPU a job with events off and on, the two workers running at the same time on
 * queues of their own (same server, same moment): whatever state the machine is in, both are in
 * it, so their difference holds still where the alternating runs' rates swing by a third from
 * one run to the next.
 */
export async function benchEventsSideBySide(
  redisUrl: string,
  n: number,
  rounds: number,
): Promise<{ off: number; on: number }[]> {
  const rows: { off: number; on: number }[] = []
  for (let round = 1; round <= rounds; round++) {
    const prefixes = [false, true].map(
      (on) => `bench-events-${on ? 'on' : 'off'}-${randomUUID().slice(0, 8)}`,
    )
    const urls = prefixes.map((p) => `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${p}`)
    try {
      for (const url of urls) await runChild<ProducerReport>('redis-producer.ts', ['bulk', url, n, 1000])
      const children = urls.map((url, i) =>
        start<WorkerReport>('redis-worker.ts', [url, n, 50, 'results'], {
          env: { BENCH_EVENTS: i ? '1' : '0' },
        }),
      )
      const [off, on] = await Promise.all(children.map((c) => c.result))
      const perJob = (r: WorkerReport) => Math.round(((r.cpuMs * 1000) / n) * 100) / 100
      rows.push({ off: perJob(off!), on: perJob(on!) })
      console.error(
        `[events] side by side ${round}: worker off ${rows.at(-1)!.off}, on ${rows.at(-1)!.on} µs/job`,
      )
    } finally {
      for (const p of prefixes) await dropPrefix(redisUrl, p)
    }
  }
  return rows
}

/** `rounds` pairs of runs (off, then on) of `n` tasks each. */
export async function benchEvents(redisUrl: string, n: number, rounds: number): Promise<EventsBenchRow[]> {
  const rows: EventsBenchRow[] = []
  for (let round = 1; round <= rounds; round++) {
    const off = await once(redisUrl, n, false)
    const on = await once(redisUrl, n, true)
    console.error(
      `[events] round ${round}: off ${off.rate} jobs/s (worker ${off.workerUs}, redis ${off.redisUs} µs/job), ` +
        `on ${on.rate} jobs/s (worker ${on.workerUs}, redis ${on.redisUs} µs/job)`,
    )
    rows.push({ round, off, on })
  }
  return rows
}

/** The median of each column and the cost of events as a share of the throughput without them. */
/** The middle value (the upper of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
}

export function summarize(rows: readonly EventsBenchRow[]): {
  off: EventsRun
  on: EventsRun
  costPct: number
} {
  const col = (side: 'off' | 'on'): EventsRun => ({
    rate: median(rows.map((r) => r[side].rate)),
    workerUs: median(rows.map((r) => r[side].workerUs)),
    redisUs: median(rows.map((r) => r[side].redisUs)),
  })
  const off = col('off')
  const on = col('on')
  return { off, on, costPct: Math.round(((off.rate - on.rate) / off.rate) * 1000) / 10 }
}
