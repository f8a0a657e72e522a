/**
 * Bench child, celeriac on Redis. `bulk <url> <n> <batch>`: enqueue n no-op tasks with sendMany in
 * batches. `steady <url> <rate> <seconds>`: one delay() per job at a steady rate, each carrying its
 * enqueue time. Prints {"enqueued","ms","cpuMs"}. BENCH_PAYLOAD=empty|1k|16k|64k: the arguments of
 * each bulk job (bench/payload.ts; default empty).
 */
import { createApp } from 'celeriac'
import { payloadArgs, isPayloadKind } from './payload.js'
import { sendAtRate } from './proc.js'

const [mode, url, a, b] = process.argv.slice(2)
const app = createApp({ broker: url!, resultBackend: false })
const noop = app.task('noop', (_ctx, ..._args: unknown[]) => undefined)
await app.broker()

const cpu0 = process.cpuUsage()
const t0 = performance.now()
let enqueued = 0
if (mode === 'bulk') {
  const n = Number(a)
  const batch = Number(b ?? 1000)
  const kind = process.env.BENCH_PAYLOAD
  const one = payloadArgs(isPayloadKind(kind) ? kind : 'empty')
  const args = Array.from({ length: batch }, () => one)
  for (; enqueued < n; enqueued += batch) await noop.sendMany(args.slice(0, Math.min(batch, n - enqueued)))
  enqueued = n
} else {
  enqueued = await sendAtRate(Number(a), Number(b), (sentAt) => noop.delay(sentAt))
}
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
await app.close()
process.stdout.write(JSON.stringify({ enqueued, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
