/**
 * Bench child: bulk-enqueue N tasks into a SQLite file, print {"enqueued":N,"ms":…,"cpuMs":…}.
 * BENCH_PAYLOAD=empty|1k|16k|64k: the arguments of each job (bench/payload.ts; default empty).
 */
import { createApp } from 'celeriac'
import { isPayloadKind, payloadArgs } from './payload.js'

const [db, nArg, batchArg, ignore] = process.argv.slice(2)
const n = Number(nArg)
const batch = Number(batchArg ?? 1000)
const app = createApp({ broker: `sqlite://${db}`, resultBackend: false })
const noop = app.task('noop', (_ctx, ..._args: unknown[]) => undefined, { ignoreResult: ignore === 'ignore' })
await app.broker()
const kind = process.env.BENCH_PAYLOAD
const one = payloadArgs(isPayloadKind(kind) ? kind : 'empty')
const args = Array.from({ length: batch }, () => one)
const cpu0 = process.cpuUsage()
const t0 = performance.now()
for (let sent = 0; sent < n; sent += batch) await noop.sendMany(args.slice(0, Math.min(batch, n - sent)))
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
await app.close()
process.stdout.write(JSON.stringify({ enqueued: n, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
