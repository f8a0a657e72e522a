/**
 * Bench child, pg-boss 12 on PostgreSQL, run by the Node 22 binary of bench/node22 (pg-boss 12
 * declares Node >= 22.12; see bench/postgres.ts). `bulk <url> <schema> <n> <batch>`: insert() of n
 * no-op jobs in batches. `steady <url> <schema> <rate> <seconds>`: one send() per job at a steady
 * rate, carrying its enqueue time. `work <url> <schema> <n> <c> <mode>`: one work() fetching c jobs
 * at a time; prints `ready`, then after n jobs handled {"processed","ms","cpuMs"} (mode `latency`
 * adds p50/p95/p99 of enqueue → start).
 *
 * pg-boss's own high-throughput settings: a handler takes a batch of up to c jobs (batchSize, one
 * local worker, so at most c jobs in hand as at concurrency c), `burstWhenBatchFull` fetches again
 * without waiting while fetches come back full, and LISTEN/NOTIFY (`useListenNotify`, the queue's
 * `notify`) wakes the worker when a job is created; the poll without a notification stays its
 * shortest, 0.5 s. "processed" counts the return of the handler holding the n-th job, before
 * pg-boss writes the batch's completion. pg-boss keeps completed jobs (in its job table) until the
 * queue's deleteAfterSeconds (7 days by default) removes them.
 */
import { PgBoss } from 'pg-boss'
import { processingReport, sendAtRate } from '../proc.js'

const [mode, connectionString, schema, a, b, c] = process.argv.slice(2)
const QUEUE = 'bench'
const boss = new PgBoss({
  connectionString: connectionString!,
  schema: schema!,
  max: 10,
  schedule: false,
  useListenNotify: mode === 'work',
})
boss.on('error', (err) => console.error('pg-boss:', err))
await boss.start()
await boss.createQueue(QUEUE, { notify: true })

if (mode === 'bulk' || mode === 'steady') {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let enqueued = 0
  if (mode === 'bulk') {
    const n = Number(a)
    const batch = Number(b ?? 1000)
    for (; enqueued < n; enqueued += batch)
      await boss.insert(
        QUEUE,
        Array.from({ length: Math.min(batch, n - enqueued) }, () => ({ data: {} })),
      )
    enqueued = n
  } else {
    enqueued = await sendAtRate(Number(a), Number(b), (sentAt) => boss.send(QUEUE, { sentAt }))
  }
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await boss.stop({ graceful: false })
  process.stdout.write(JSON.stringify({ enqueued, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
} else {
  const n = Number(a)
  const latencies: number[] = []
  let t0 = 0
  let cpu0: NodeJS.CpuUsage | null = null
  let done = 0
  await boss.work<{ sentAt?: number }>(
    QUEUE,
    {
      batchSize: Number(b ?? 50),
      localConcurrency: 1,
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 0.5,
    },
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
          void boss.stop({ graceful: true, timeout: 5000 }).finally(() => {
            process.stdout.write(JSON.stringify(report) + '\n')
            process.exit(0)
          })
        })
      }
    },
  )
  process.stdout.write('ready\n')
}
