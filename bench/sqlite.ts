/**
 * SQLite broker benchmark: a producer process bulk-enqueues N no-op tasks, then one worker process
 * at concurrency 50 drains them, with results stored and without.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { child, rate } from './run.js'

export interface SqliteRow {
  case: string
  enqueue: number
  process: number
}

export async function benchSqlite(n: number, concurrency = 50): Promise<SqliteRow[]> {
  const rows: SqliteRow[] = []
  for (const mode of ['results', 'no-results'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-'))
    const db = join(dir, 'bench.db')
    const enq = await child<{ enqueued: number; ms: number }>('sqlite-producer.ts', [db, n, 1000])
    const proc = await child<{ processed: number; ms: number }>('sqlite-worker.ts', [
      db,
      n,
      concurrency,
      mode,
    ])
    rows.push({
      case: mode === 'results' ? 'results stored' : 'results not stored',
      enqueue: rate(n, enq.ms),
      process: rate(n, proc.ms),
    })
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}
