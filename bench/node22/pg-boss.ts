/**
 * Bench child, pg-boss on PostgreSQL. `bulk <url> <schema> <n> <batch>`: insert() of n no-op jobs in
 * batches. `steady <url> <schema> <rate> <seconds>`: one send() per job at a steady rate, carrying
 * its enqueue time. `work <url> <schema> <n> <c> <mode>`: one work() fetching c jobs at a time
 * (pg-boss 10 hands a handler a batch; its shortest poll is 0.5 s); prints `ready`, then after n
 * jobs handled {"processed","ms","cpuMs"} (mode `latency` adds p50/p95/p99 of enqueue → start).
 * pg-boss keeps completed jobs (their output) until its archive and retention remove them.
 */
import PgBoss from 'pg-boss'
import { processingReport, sendAtRate } from './proc.js'

const [mode, connectionString, schema, a, b, c] = process.argv.slice(2)
const QUEUE = 'bench'
const boss = new PgBoss({ connectionString: connectionString!, schema: schema!, max: 10, schedule: false })
boss.on('error', (err) => console.error('pg-boss:', err))
await boss.start()
await boss.createQueue(QUEUE)

if (mode === 'bulk' || mode === 'steady') {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let enqueued = 0
  if (mode === 'bulk') {
    const n = Number(a)
    const batch = Number(b ?? 1000)
    for (; enqueued < n; enqueued += batch)
      await boss.insert(
        Array.from({ length: Math.min(batch, n - enqueued) }, () => ({ name: QUEUE, data: {} })),
      )
    enqueued = n
  } else {
    enqueued = await sendAtRate(Number(a), Number(b), (sentAt) => boss.send(QUEUE, { sentAt }))
  }
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await boss.stop({ graceful: false, wait: true })
  process.stdout.write(JSON.stringify({ enqueued, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
} else {
  const n = Number(a)
  const latencies: number[] = []
  let t0 = 0
  let cpu0: NodeJS.CpuUsage | null = null
  let done = 0
  await boss.work<{ sentAt?: number }>(
    QUEUE,
    { batchSize: Number(b ?? 50), pollingIntervalSeconds: 0.5 },
    async (jobs) => {
      if (!cpu0) {
        cpu0 = process.cpuUsage()
        t0 = performance.now()
      }
      for (const job of jobs)
        if (job.data.sentAt !== undefined)
          latencies.push(performance.timeOrigin + performance.now() - job.data.sentAt)
      done += jobs.length
      if (done >= n) {
        const report = processingReport(n, t0, cpu0, c === 'latency' ? latencies : null)
        setImmediate(() => {
          void boss.stop({ graceful: true, wait: true, timeout: 5000 }).finally(() => {
            process.stdout.write(JSON.stringify(report) + '\n')
            process.exit(0)
          })
        })
      }
    },
  )
  process.stdout.write('ready\n')
}
