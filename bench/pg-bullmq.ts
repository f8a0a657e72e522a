/**
 * Bench child, BullMQ 6.7 on its PostgreSQL backend (createPostgresBackend, in the open-source
 * package). `bulk <url> <schema> <n> <batch>`: addBulk of n no-op jobs (completed jobs kept).
 * `steady <url> <schema> <rate> <seconds>`: one add() per job at a steady rate, carrying its
 * enqueue time. `work <url> <schema> <n> <c> <mode>`: one Worker at concurrency c; prints `ready`,
 * then after n completions {"processed","ms","cpuMs"} (mode `latency` adds p50/p95/p99 of
 * enqueue → start). Completed jobs and their return values are kept, like celeriac's results.
 */
import { createPostgresBackend, Queue, Worker, type Job } from 'bullmq'
import { processingReport, sendAtRate } from './proc.js'

const [mode, connectionString, schema, a, b, c] = process.argv.slice(2)
const connection = { connectionString: connectionString!, schema: schema!, max: 10, migrate: true }

if (mode === 'bulk' || mode === 'steady') {
  const queue = new Queue('bench', { connection }, createPostgresBackend)
  await queue.waitUntilReady()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let enqueued = 0
  if (mode === 'bulk') {
    const n = Number(a)
    const batch = Number(b ?? 1000)
    for (; enqueued < n; enqueued += batch)
      await queue.addBulk(
        Array.from({ length: Math.min(batch, n - enqueued) }, () => ({ name: 'noop', data: {} })),
      )
    enqueued = n
  } else {
    enqueued = await sendAtRate(Number(a), Number(b), (sentAt) => queue.add('noop', { sentAt }))
  }
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await queue.close()
  process.stdout.write(JSON.stringify({ enqueued, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
} else {
  const n = Number(a)
  const latencies: number[] = []
  let t0 = 0
  let cpu0: NodeJS.CpuUsage | null = null
  const worker = new Worker(
    'bench',
    async (job: Job<{ sentAt?: number }>) => {
      if (!cpu0) {
        cpu0 = process.cpuUsage()
        t0 = performance.now()
      }
      if (job.data.sentAt !== undefined)
        latencies.push(performance.timeOrigin + performance.now() - job.data.sentAt)
    },
    { connection, concurrency: Number(b ?? 50) },
    createPostgresBackend,
  )
  let completed = 0
  worker.on('completed', () => {
    if (++completed !== n) return
    const report = processingReport(n, t0, cpu0, c === 'latency' ? latencies : null)
    void worker.close(true).finally(() => {
      process.stdout.write(JSON.stringify(report) + '\n')
      process.exit(0)
    })
  })
  await worker.waitUntilReady()
  process.stdout.write('ready\n')
}
