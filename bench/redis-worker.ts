/**
 * Bench child, celeriac on Redis: one worker process at concurrency c. Prints `ready` once
 * consuming, then after n tasks have settled {"processed","ms","cpuMs"} measured from the first
 * task's start to the n-th settle; mode `latency` adds p50/p95/p99 of enqueue → start (ms).
 * Modes: results (results stored), no-results (no result store), latency (results stored).
 * BENCH_RESULT_BACKEND: the result store's URL when the broker has none (bench/rabbitmq.ts).
 * BENCH_EVENTS=1 turns task and worker events on; BENCH_QUEUE names the queue to drain.
 * BENCH_GATED=1 (the matrix, bench/matrix.ts): n is ignored, the task returns its argument (its
 * result is the payload again) and the process shares the queue with other workers (see
 * gatedWorker in ./proc.js).
 */
import { pino } from 'pino'
import { createApp } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { gatedWorker, processingReport } from './proc.js'

const [url, nArg, cArg, mode] = process.argv.slice(2)
const n = Number(nArg)
const app = createApp({
  broker: url!,
  resultBackend: mode === 'no-results' ? false : process.env.BENCH_RESULT_BACKEND,
  // BENCH_QUEUE: the queue to drain (bench/celery-mode.ts drains Celery's "celery").
  ...(process.env.BENCH_QUEUE ? { defaultQueue: process.env.BENCH_QUEUE } : {}),
})
const latencies: number[] = []
let t0 = 0
let cpu0: NodeJS.CpuUsage | null = null
const gated =
  process.env.BENCH_GATED === '1'
    ? gatedWorker(async () => {
        await worker.stop({ grace: 0 })
        await app.close()
      })
    : null
app.task('noop', (_ctx, sentAt?: unknown) => {
  if (gated) return gated.gate()?.then(() => sentAt) ?? sentAt
  if (typeof sentAt !== 'number') sentAt = undefined
  if (!cpu0) {
    cpu0 = process.cpuUsage()
    t0 = performance.now()
  }
  if (sentAt !== undefined) latencies.push(performance.timeOrigin + performance.now() - (sentAt as number))
  return undefined
})
const worker = new Worker(app, {
  concurrency: Number(cArg ?? 50),
  // Default: the worker's own (= concurrency). Set to study batch size; the benchmark leaves it.
  prefetch: process.env.BENCH_PREFETCH ? Number(process.env.BENCH_PREFETCH) : undefined,
  // BENCH_LOG=info measures the worker's line per finished task (written to /dev/null, as a
  // process whose stdout a log collector drains); the default keeps the log quiet.
  logger:
    process.env.BENCH_LOG === 'info'
      ? pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }))
      : pino({ level: 'warn' }),
  shutdownGrace: 1000,
  // BENCH_EVENTS=1: task and worker events on (bench/events.ts measures what they cost).
  events: process.env.BENCH_EVENTS === '1',
})
let settled = 0
worker.on('settled', () => {
  if (gated) return gated.settled()
  if (++settled !== n) return
  const report = processingReport(n, t0, cpu0, mode === 'latency' ? latencies : null)
  void worker
    .stop({ grace: 0 })
    .then(() => app.close())
    .then(() => {
      process.stdout.write(JSON.stringify(report) + '\n')
      process.exit(0)
    })
})
await worker.start()
process.stdout.write('ready\n')
