/**
 * Bench child, flow control on Redis: one worker process of no-op tasks.
 * `throughput <url> <n> <c> <none|active>`: prints ready, then after n settled tasks
 *   {"processed","ms","cpuMs"}. 'none': the task declares no limit (the flow gate only looks it
 *   up); 'active': the task has rateLimit 1,000,000/s, a limit the worker never reaches, so every
 *   batch of jobs costs one token bucket round trip.
 * `rate <url> <c> <until epoch ms>`: the task has rateLimit 50/s; runs until the given time and
 *   prints {"starts": [epoch ms…]}.
 */
import { pino } from 'pino'
import { createApp } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { processingReport } from './proc.js'

const [mode, url, ...rest] = process.argv.slice(2)
const app = createApp({ broker: url!, resultBackend: false })
const logger = pino({ level: 'warn' })

if (mode === 'rate') {
  const [c, until] = rest.map(Number)
  const starts: number[] = []
  app.task('noop', () => void starts.push(Date.now()), { rateLimit: '50/s' })
  const worker = new Worker(app, { concurrency: c, logger, shutdownGrace: 1000 })
  await worker.start()
  process.stdout.write('ready\n')
  await new Promise((r) => setTimeout(r, Math.max(0, until! - Date.now())))
  await worker.stop({ grace: 0 })
  await app.close()
  process.stdout.write(JSON.stringify({ starts }) + '\n')
  process.exit(0)
}

const [n, c] = rest.slice(0, 2).map(Number)
const limit = rest[2] === 'active' ? { rateLimit: '1000000/s' } : {}
let t0 = 0
let cpu0: NodeJS.CpuUsage | null = null
app.task(
  'noop',
  () => {
    if (!cpu0) {
      cpu0 = process.cpuUsage()
      t0 = performance.now()
    }
  },
  limit,
)
const worker = new Worker(app, { concurrency: c, logger, shutdownGrace: 1000 })
let settled = 0
worker.on('settled', () => {
  if (++settled !== n) return
  const report = processingReport(n!, t0, cpu0, null)
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
