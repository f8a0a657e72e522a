/**
 * Bench child, Graphile Worker 0.18 on PostgreSQL, run by the Node 22 binary of bench/node22 (0.18
 * declares Node >= 22.18; see bench/postgres.ts). `bulk <url> <schema> <n> <batch>`: addJobs of n no-op
 * jobs in batches. `steady <url> <schema> <rate> <seconds>`: one addJob per job at a steady rate,
 * carrying its enqueue time. `work <url> <schema> <n> <c> <mode> <batched|unbatched>`: a runner at
 * concurrency c; prints `ready`, then after n jobs succeeded {"processed","ms","cpuMs"} (mode
 * `latency` adds p50/p95/p99 of enqueue → start). Batched: a local queue of 500 jobs per fetch
 * and completions batched (completeJobBatchDelay 0), Graphile's own high-throughput settings;
 * unbatched: each of the c job loops fetches its own job. Both are woken by LISTEN/NOTIFY and poll
 * every second (pollInterval 1000). "processed" counts the n-th `job:success` event, emitted
 * before the job's completion is written. Graphile deletes finished jobs: it keeps no results,
 * whatever the mode.
 */
import { Logger, makeWorkerUtils, run } from 'graphile-worker'
import { processingReport, sendAtRate } from '../proc.js'

const [mode, connectionString, schema, a, b, c, d] = process.argv.slice(2)
let stopping = false
// Errors only, and none once stopping: its batched mode logs errors releasing the local queue on
// stop, after the figure is taken.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' && !stopping) console.error(`graphile-worker: ${message}`)
})

if (mode === 'bulk' || mode === 'steady') {
  const utils = await makeWorkerUtils({ connectionString: connectionString!, schema: schema!, logger })
  await utils.migrate()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let enqueued = 0
  if (mode === 'bulk') {
    const n = Number(a)
    const batch = Number(b ?? 1000)
    for (; enqueued < n; enqueued += batch)
      await utils.addJobs(
        Array.from({ length: Math.min(batch, n - enqueued) }, () => ({ identifier: 'noop', payload: {} })),
      )
    enqueued = n
  } else {
    enqueued = await sendAtRate(Number(a), Number(b), (sentAt) => utils.addJob('noop', { sentAt }))
  }
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await utils.release()
  process.stdout.write(JSON.stringify({ enqueued, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
} else {
  const n = Number(a)
  const latencies: number[] = []
  let t0 = 0
  let cpu0: NodeJS.CpuUsage | null = null
  const batched = d === 'batched'
  const runner = await run({
    connectionString: connectionString!,
    schema: schema!,
    concurrency: Number(b ?? 50),
    noHandleSignals: true,
    pollInterval: 1000,
    logger,
    preset: batched ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } } : {},
    taskList: {
      noop: (payload) => {
        if (!cpu0) {
          cpu0 = process.cpuUsage()
          t0 = performance.now()
        }
        const sentAt = (payload as { sentAt?: number }).sentAt
        if (sentAt !== undefined) latencies.push(performance.timeOrigin + performance.now() - sentAt)
      },
    },
  })
  let done = 0
  runner.events.on('job:success', () => {
    if (++done !== n) return
    const report = processingReport(n, t0, cpu0, c === 'latency' ? latencies : null)
    stopping = true
    void runner.stop().finally(() => {
      process.stdout.write(JSON.stringify(report) + '\n')
      process.exit(0)
    })
  })
  process.stdout.write('ready\n')
}
