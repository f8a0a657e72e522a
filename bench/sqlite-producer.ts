/** Bench child: bulk-enqueue N no-op tasks into a SQLite file, print {"enqueued":N,"ms":…}. */
import { createApp } from 'celeriac'

const [db, nArg, batchArg, ignore] = process.argv.slice(2)
const n = Number(nArg)
const batch = Number(batchArg ?? 1000)
const app = createApp({ broker: `sqlite://${db}`, resultBackend: false })
const noop = app.task('noop', () => undefined, { ignoreResult: ignore === 'ignore' })
await app.broker()
const args = Array.from({ length: batch }, () => [] as [])
const t0 = performance.now()
for (let sent = 0; sent < n; sent += batch) await noop.sendMany(args.slice(0, Math.min(batch, n - sent)))
const ms = performance.now() - t0
await app.close()
process.stdout.write(JSON.stringify({ enqueued: n, ms }) + '\n')
