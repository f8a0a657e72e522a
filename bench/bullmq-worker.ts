/**
 * Bench child, BullMQ: one Worker at concurrency c in this process. Prints `ready`, then after n
 * jobs completed {"processed","ms","cpuMs"} from the first job's start to the n-th completion;
 * mode `latency` adds p50/p95/p99 of enqueue → start (ms). Modes: results (completed jobs kept),
 * no-results (removeOnComplete), latency (kept). BENCH_GATED=1 (the matrix, bench/matrix.ts): n is
 * ignored, the job returns its `p` (the payload, kept as its return value) and the process shares
 * the queue with other workers (see gatedWorker in ./proc.js).
 */
import { Worker, type Job } from 'bullmq'
import { gatedWorker, processingReport } from './proc.js'

const [url, nArg, cArg, mode] = process.argv.slice(2)
const n = Number(nArg)
const u = new URL(url!)
const connection = {
  host: u.hostname,
  port: Number(u.port),
  db: Number(u.pathname.slice(1) || 0),
  maxRetriesPerRequest: null,
}
const latencies: number[] = []
let t0 = 0
let cpu0: NodeJS.CpuUsage | null = null
const gated =
  process.env.BENCH_GATED === '1' ? gatedWorker(() => worker.close(true).catch(() => undefined)) : null
const worker = new Worker(
  'bench',
  async (job: Job<{ sentAt?: number; p?: unknown }>) => {
    if (gated) {
      await gated.gate()
      return job.data.p
    }
    if (!cpu0) {
      cpu0 = process.cpuUsage()
      t0 = performance.now()
    }
    if (job.data.sentAt !== undefined)
      latencies.push(performance.timeOrigin + performance.now() - job.data.sentAt)
  },
  {
    connection,
    concurrency: Number(cArg ?? 50),
    removeOnComplete: mode === 'no-results' ? { count: 0 } : undefined,
  },
)
let completed = 0
worker.on('completed', () => {
  if (gated) return gated.settled()
  if (++completed !== n) return
  const report = processingReport(n, t0, cpu0, mode === 'latency' ? latencies : null)
  process.stdout.write(JSON.stringify(report) + '\n')
  void worker.close(true).finally(() => process.exit(0))
})
await worker.waitUntilReady()
process.stdout.write('ready\n')
