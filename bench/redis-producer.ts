/**
 * Bench child, celeriac on Redis. `bulk <url> <n> <batch>`: enqueue n no-op tasks with sendMany in
 * batches. `steady <url> <rate> <seconds>`: one delay() per job at a steady rate, each carrying its
 * enqueue time. Prints {"enqueued","ms","cpuMs"}.
 */
import { createApp } from 'celeriac'

const [mode, url, a, b] = process.argv.slice(2)
const app = createApp({ broker: url!, resultBackend: false })
const noop = app.task('noop', (_ctx, _sentAt?: number) => undefined)
await app.broker()

const cpu0 = process.cpuUsage()
const t0 = performance.now()
let enqueued = 0
if (mode === 'bulk') {
  const n = Number(a)
  const batch = Number(b ?? 1000)
  const args = Array.from({ length: batch }, () => [] as [])
  for (; enqueued < n; enqueued += batch) await noop.sendMany(args.slice(0, Math.min(batch, n - enqueued)))
  enqueued = n
} else {
  const rate = Number(a)
  const total = Math.round(rate * Number(b))
  const pending = new Set<Promise<unknown>>()
  const start = Date.now()
  while (enqueued < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) * rate) / 1000))
    for (; enqueued < due; enqueued++) {
      const p = noop.delay(performance.timeOrigin + performance.now())
      pending.add(p)
      void p.finally(() => pending.delete(p))
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  await Promise.all(pending)
}
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
await app.close()
process.stdout.write(JSON.stringify({ enqueued, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
