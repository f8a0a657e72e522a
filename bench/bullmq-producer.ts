/**
 * Bench child, BullMQ. `bulk <redis url> <n> <batch> <keep|remove>`: Queue.addBulk of n no-op jobs
 * in batches (removeOnComplete false or true). `steady <redis url> <rate> <seconds>`: one add()
 * per job at a steady rate, carrying its enqueue time. Prints {"enqueued","ms","cpuMs"}.
 * BENCH_PAYLOAD=empty|1k|16k|64k: bulk jobs carry that argument as `data.p` (bench/payload.ts).
 */
import { Queue } from 'bullmq'
import { payloadArgs, isPayloadKind } from './payload.js'
import { sendAtRate } from './proc.js'

const [mode, url, a, b, keep] = process.argv.slice(2)
const u = new URL(url!)
const connection = { host: u.hostname, port: Number(u.port), db: Number(u.pathname.slice(1) || 0) }
const queue = new Queue('bench', { connection })
await queue.waitUntilReady()

const cpu0 = process.cpuUsage()
const t0 = performance.now()
let enqueued = 0
if (mode === 'bulk') {
  const n = Number(a)
  const batch = Number(b ?? 1000)
  const opts = { removeOnComplete: keep !== 'keep' }
  const kind = process.env.BENCH_PAYLOAD
  const [p] = payloadArgs(isPayloadKind(kind) ? kind : 'empty')
  const data = p === undefined ? {} : { p }
  for (; enqueued < n; enqueued += batch)
    await queue.addBulk(
      Array.from({ length: Math.min(batch, n - enqueued) }, () => ({ name: 'noop', data, opts })),
    )
  enqueued = n
} else {
  enqueued = await sendAtRate(Number(a), Number(b), (sentAt) => queue.add('noop', { sentAt }))
}
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
await queue.close()
process.stdout.write(JSON.stringify({ enqueued, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
