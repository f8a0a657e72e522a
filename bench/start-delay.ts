/**
 * How late a delayed job starts: a task sent with a countdown of 50 ms to an idle in-process
 * worker, the delay measured from the job's due time to the moment its function begins, on each
 * engine (memory, SQLite, Redis). One job at a time, so every start is a wake-up from idle.
 *
 * Run alone: `node --import tsx bench/start-delay.ts [--n 50]`; `npm run bench` runs it too.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { App } from '../src/core/app.js'
import { Worker } from '../src/worker/index.js'
import { createLogger } from '../src/worker/logger.js'
import { printTable } from './run.js'

export interface StartDelayRow {
  readonly engine: string
  readonly p50: number | string
  readonly p99: number | string
  readonly max: number | string
}

/** A row for an engine that could not be measured, saying why. */
const failed = (engine: string, e: unknown): StartDelayRow => ({
  engine,
  p50: '–',
  p99: '–',
  max: `failed: ${(e as Error).message.split('\n')[0]}`,
})

const COUNTDOWN_MS = 50

async function measure(engine: string, url: string, n: number): Promise<StartDelayRow> {
  const app = new App({ broker: url, resultBackend: false })
  let started: (() => void) | null = null
  app.task('bench.delay', () => started?.())
  const queue = `delay-${randomUUID().slice(0, 8)}`
  const worker = new Worker(app, {
    queues: [queue],
    concurrency: 1,
    logger: createLogger({ level: 'silent' }),
  })
  await worker.start()
  const late: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      // Let the worker settle into its idle wait, at a varying phase.
      await new Promise((r) => setTimeout(r, 20 + (i % 7) * 13))
      const ran = new Promise<void>((r) => (started = r))
      const due = performance.now() + COUNTDOWN_MS
      await app.sendTask('bench.delay', [], { queue, countdown: COUNTDOWN_MS })
      await ran
      late.push(performance.now() - due)
    }
  } finally {
    await worker.stop({ grace: 1000 })
    await app.close()
  }
  late.sort((a, b) => a - b)
  const at = (q: number) =>
    Math.round(late[Math.min(late.length - 1, Math.floor(q * late.length))]! * 10) / 10
  return { engine, p50: at(0.5), p99: at(0.99), max: at(1) }
}

/** Memory, SQLite (a temporary file) and Redis (skipped when `redisUrl` is absent). */
export async function benchStartDelay(n: number, redisUrl?: string): Promise<StartDelayRow[]> {
  const run = (engine: string, url: string) => measure(engine, url, n).catch((e) => failed(engine, e))
  const rows = [await run('memory', `memory://delay-${randomUUID().slice(0, 8)}`)]
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-delay-'))
  try {
    rows.push(await run('sqlite', `sqlite://${join(dir, 'delay.db')}`))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  if (redisUrl) {
    const prefix = `celeriac-delay-${randomUUID().slice(0, 8)}`
    const row = await run('redis', `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${prefix}`)
    rows.push(row)
    if (typeof row.p50 !== 'number') return rows // Redis did not answer: nothing to clean
    const redis = new Redis(redisUrl)
    const keys = await redis.keys(`*${prefix}*`)
    if (keys.length) await redis.del(...keys)
    await redis.quit()
  }
  return rows
}

export function printStartDelay(rows: readonly StartDelayRow[], n: number): void {
  printTable(
    `Delayed start: countdown ${COUNTDOWN_MS} ms to an idle worker, ms late from the due time (${n} jobs, one at a time)`,
    ['broker', 'p50', 'p99', 'max'],
    rows.map((r) => [r.engine, r.p50, r.p99, r.max]),
  )
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '50' } } })
  const n = Number(values.n)
  printStartDelay(await benchStartDelay(n, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'), n)
}
