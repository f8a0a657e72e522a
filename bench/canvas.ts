/**
 * Workflows: time to complete a chord of N members (10,000) and a chain of M steps (1,000) on
 * SQLite and Redis, and what a chain step costs over a plain task: M plain tasks run one after
 * another (send, wait for the result, send the next) against the M steps of one chain. One
 * worker in this process (concurrency 50), one engine at a time.
 *
 * Run alone: `node --import tsx bench/canvas.ts [--chord 10000] [--chain 1000]`;
 * `npm run bench -- --broker canvas` runs it too (`--quick`: sizes ÷ 10).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { dropPrefix } from './redis-admin.js'
import { App } from '../src/core/app.js'
import { chain, chord, group } from '../src/canvas/index.js'
import { Worker } from '../src/worker/index.js'
import { createLogger } from '../src/worker/logger.js'
import { printTable } from './run.js'

export interface CanvasRow {
  readonly engine: string
  readonly chordMs: number | string
  readonly chainMs: number | string
  readonly stepMs: number | string
  readonly plainMs: number | string
  readonly overhead: string
}

async function measure(engine: string, url: string, chordN: number, chainN: number): Promise<CanvasRow> {
  const app = new App({ broker: url })
  const inc = app.task('bench.inc', (_ctx, x: number) => x + 1)
  const count = app.task('bench.count', (_ctx, xs: number[]) => xs.length)
  const worker = new Worker(app, { concurrency: 50, logger: createLogger({ level: 'silent' }) })
  await worker.start()
  try {
    let t = performance.now()
    const c = await chord(group(Array.from({ length: chordN }, (_, i) => inc.s(i))), count.s()).apply()
    if ((await c.get({ timeout: '10m' })) !== chordN) throw new Error('chord result is wrong')
    const chordMs = performance.now() - t

    t = performance.now()
    const steps = Array.from({ length: chainN - 1 }, () => inc.s())
    const r = await chain(inc.s(0), ...(steps as [ReturnType<typeof inc.s>])).apply()
    if ((await r.get({ timeout: '10m' })) !== chainN) throw new Error('chain result is wrong')
    const chainMs = performance.now() - t

    t = performance.now()
    let x = 0
    for (let i = 0; i < chainN; i++) x = await (await inc.delay(x)).get({ timeout: '1m' })
    const plainMs = performance.now() - t
    const per = (ms: number) => Math.round((ms / chainN) * 100) / 100
    return {
      engine,
      chordMs: Math.round(chordMs),
      chainMs: Math.round(chainMs),
      stepMs: per(chainMs),
      plainMs: per(plainMs),
      overhead: `${(chainMs / plainMs).toFixed(2)}×`,
    }
  } finally {
    await worker.stop({ grace: 1000 })
    await app.close()
  }
}

const failed = (engine: string, e: unknown): CanvasRow => ({
  engine,
  chordMs: '–',
  chainMs: '–',
  stepMs: '–',
  plainMs: '–',
  overhead: `failed: ${(e as Error).message.split('\n')[0]}`,
})

/** SQLite (a temporary file) and Redis (skipped when `redisUrl` is absent). */
export async function benchCanvas(chordN: number, chainN: number, redisUrl?: string): Promise<CanvasRow[]> {
  const run = (engine: string, url: string) =>
    measure(engine, url, chordN, chainN).catch((e) => failed(engine, e))
  const rows: CanvasRow[] = []
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-canvas-'))
  try {
    rows.push(await run('sqlite', `sqlite://${join(dir, 'canvas.db')}`))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  if (redisUrl) {
    const prefix = `celeriac-canvas-${randomUUID().slice(0, 8)}`
    rows.push(await run('redis', `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${prefix}`))
    // A Redis that does not answer any more has nothing to clean.
    await dropPrefix(redisUrl, prefix).catch(() => {})
  }
  return rows
}

export function printCanvas(rows: readonly CanvasRow[], chordN: number, chainN: number): void {
  printTable(
    `Workflows: chord of ${chordN.toLocaleString('en-US')} members, chain of ${chainN.toLocaleString('en-US')} steps, one in-process worker (concurrency 50)`,
    [
      'broker',
      'chord ms',
      'chain ms',
      'ms per chain step',
      'ms per plain task (one after another)',
      'step / plain',
    ],
    rows.map((r) => [r.engine, r.chordMs, r.chainMs, r.stepMs, r.plainMs, r.overhead]),
  )
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { chord: { type: 'string', default: '10000' }, chain: { type: 'string', default: '1000' } },
  })
  const chordN = Number(values.chord)
  const chainN = Number(values.chain)
  printCanvas(
    await benchCanvas(chordN, chainN, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'),
    chordN,
    chainN,
  )
}
