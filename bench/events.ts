/**
 * What task events cost: celeriac's Redis "processing, results kept" figure (one worker process
 * at concurrency 50 draining no-op tasks, results stored) with events off and on, in alternating
 * rounds on fresh key prefixes, so drift of the machine hits both alike. The goal is under 5 %.
 */
import { randomUUID } from 'node:crypto'
import { dropPrefix } from './redis-admin.js'
import { runChild, start, type ProducerReport, type WorkerReport } from './proc.js'
import { rate } from './run.js'

export interface EventsBenchRow {
  readonly round: number
  readonly off: number
  readonly on: number
}

async function once(redisUrl: string, n: number, events: boolean): Promise<number> {
  const prefix = `bench-events-${randomUUID().slice(0, 8)}`
  const url = `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${prefix}`
  try {
    await runChild<ProducerReport>('redis-producer.ts', ['bulk', url, n, 1000])
    const r = await start<WorkerReport>('redis-worker.ts', [url, n, 50, 'results'], {
      env: { BENCH_EVENTS: events ? '1' : '0' },
    }).result
    return rate(n, r.ms)
  } finally {
    await dropPrefix(redisUrl, prefix)
  }
}

/** `rounds` pairs of runs (off, then on) of `n` tasks each. */
export async function benchEvents(redisUrl: string, n: number, rounds: number): Promise<EventsBenchRow[]> {
  const rows: EventsBenchRow[] = []
  for (let round = 1; round <= rounds; round++) {
    const off = await once(redisUrl, n, false)
    const on = await once(redisUrl, n, true)
    console.error(`[events] round ${round}: off ${off} jobs/s, on ${on} jobs/s`)
    rows.push({ round, off, on })
  }
  return rows
}

/** The median of each column and the cost of events as a share of the throughput without them. */
export function summarize(rows: readonly EventsBenchRow[]): { off: number; on: number; costPct: number } {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.floor(s.length / 2)]!
  }
  const off = median(rows.map((r) => r.off))
  const on = median(rows.map((r) => r.on))
  return { off, on, costPct: Math.round(((off - on) / off) * 1000) / 10 }
}
