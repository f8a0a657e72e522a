/**
 * Bench child: one worker process at concurrency C on a SQLite file; exits after N tasks have
 * settled and prints {"processed":N,"ms":…} measured from the first delivery to the last settle.
 * BENCH_GATED=1 (the matrix, bench/matrix.ts): N is ignored, the task returns its argument and
 * the process shares the queue with other workers (see gatedWorker in ./proc.js).
 */
import { pino } from 'pino'
import { createApp } from 'celeriac'
import { Worker } from 'celeriac/worker'
import { gatedWorker } from './proc.js'

const [db, nArg, cArg, results] = process.argv.slice(2)
const n = Number(nArg)
const app = createApp({ broker: `sqlite://${db}`, resultBackend: results === 'results' ? undefined : false })
const gated =
  process.env.BENCH_GATED === '1'
    ? gatedWorker(async () => {
        await worker.stop({ grace: 0 })
        await app.close()
      })
    : null
app.task('noop', (_ctx, arg?: unknown) => (gated ? (gated.gate()?.then(() => arg) ?? arg) : undefined))
const worker = new Worker(app, {
  concurrency: Number(cArg ?? 50),
  logger: pino({ level: 'warn' }),
  shutdownGrace: 1000,
})
let settled = 0
let t0 = 0
worker.on('settled', () => {
  if (gated) return gated.settled()
  settled++
  if (settled === n) {
    const ms = performance.now() - t0
    process.stdout.write(JSON.stringify({ processed: n, ms }) + '\n')
    void worker
      .stop()
      .then(() => app.close())
      .then(() => process.exit(0))
  }
})
t0 = performance.now()
await worker.start()
if (gated) process.stdout.write('ready\n')
