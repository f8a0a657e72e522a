/**
 * Poison-input conformance on SQLite: rows written straight into `celeriac_jobs` with another
 * connection (no producer checks), and shapes only a SQLite row can hold: a BLOB body with bytes
 * that are not UTF-8, priorities outside 0–9, a huge delivery count, a due time far in the past.
 */
import Database from 'better-sqlite3'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { App } from '../../src/core/app.js'
import { poisonConformance, type EngineCase } from './poison-suite.js'

const file = join(mkdtempSync(join(tmpdir(), 'celeriac-poison-')), 'queue.db')
const url = `sqlite://${file}`
let raw: Database.Database | null = null
after(() => raw?.close())

/** An engine-only row: column values as SQLite holds them. */
interface SqliteRaw {
  readonly id: string
  readonly body: string | Buffer
  readonly priority?: number
  readonly deliveries?: number
  readonly availableAt?: number
}

function insert(queue: string, rows: readonly SqliteRaw[], now: number): void {
  raw ??= new Database(file)
  raw.pragma('busy_timeout = 5000')
  const st = raw.prepare(
    `INSERT OR IGNORE INTO celeriac_jobs (id, queue, priority, state, available_at, deliveries, body)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  )
  raw.transaction(() => {
    raw!.prepare('INSERT OR IGNORE INTO celeriac_queues (name) VALUES (?)').run(queue)
    for (const r of rows) {
      const delayed = r.availableAt !== undefined && r.availableAt > now
      st.run(r.id, queue, r.priority ?? 0, delayed ? 1 : 0, r.availableAt ?? 0, r.deliveries ?? 0, r.body)
    }
  })()
}

const envelope = (id: string) =>
  JSON.stringify({ v: 1, id, task: 'poison.add', args: [1, 2], queue: 'q', sent_at: '2024-01-01T00:00:00Z' })

const engineCases: EngineCase[] = [
  {
    name: 'a BLOB body whose bytes are not UTF-8',
    raw: { id: `blob-${randomUUID()}`, body: Buffer.from([0x7b, 0xff, 0xfe, 0x22]) } satisfies SqliteRaw,
    matches: (d) => d.id.startsWith('blob-'),
  },
  {
    name: 'a negative priority',
    raw: { id: `neg-${randomUUID()}`, body: 'not json', priority: -3 } satisfies SqliteRaw,
    matches: (d) => d.id.startsWith('neg-'),
  },
  {
    name: 'a priority above 9',
    raw: { id: `big-${randomUUID()}`, body: '[]', priority: 42 } satisfies SqliteRaw,
    matches: (d) => d.id.startsWith('big-'),
  },
  (() => {
    const id = `huge-${randomUUID()}`
    return {
      name: 'a huge delivery count',
      raw: { id, body: envelope(id), deliveries: 2_000_000_000 } satisfies SqliteRaw,
      matches: (d: { id: string }) => d.id === id,
      reason: /delivered \d+ times/,
    }
  })(),
  {
    name: 'a due time far in the past',
    raw: { id: `past-${randomUUID()}`, body: '{"v":1}', availableAt: -1e15 } satisfies SqliteRaw,
    matches: (d) => d.id.startsWith('past-'),
  },
]

poisonConformance({
  name: 'sqlite',
  app: (options) => new App({ broker: url, ...options }),
  writeRaw: async (queue, entries) => {
    const now = Date.now()
    insert(
      queue,
      entries.map((e): SqliteRaw => {
        if ('raw' in e) return e.raw as SqliteRaw
        return {
          id: e.id,
          body: typeof e.body === 'string' ? e.body : Buffer.from(e.body),
          priority: e.priority,
          ...(e.delayMs ? { availableAt: now + e.delayMs } : {}),
        }
      }),
      now,
    )
  },
  engineCases,
  duplicateIds: 'skipped',
})
