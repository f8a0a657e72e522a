/**
 * Poison-input conformance on PostgreSQL: rows written straight into `<schema>.jobs` by another
 * client (no producer checks), and shapes only a PostgreSQL row can hold: priorities outside 0–9,
 * a huge delivery count, a due time far in the past, a lease that expired long ago. Bodies given
 * as bytes are stored as text (PostgreSQL text is UTF-8: invalid bytes become U+FFFD).
 */
import { randomUUID } from 'node:crypto'
import { after } from 'node:test'
import pg from 'pg'
import { App } from '../../src/core/app.js'
import { postgresBaseUrl, postgresTestSchema, postgresUrl } from './postgres-env.js'
import { poisonConformance, type EngineCase } from './poison-suite.js'

const schema = postgresTestSchema()
const url = postgresUrl(schema, 3)
let raw: pg.Client | null = null
after(() => raw?.end())

/** An engine-only row: column values as PostgreSQL holds them. */
interface PgRaw {
  readonly id: string
  readonly body: string
  readonly priority?: number
  readonly deliveries?: number
  readonly availableAt?: number
  readonly state?: number
}

async function insert(queue: string, rows: readonly PgRaw[], now: number): Promise<void> {
  if (!raw) {
    raw = new pg.Client({ connectionString: postgresBaseUrl() })
    await raw.connect()
  }
  await raw.query('BEGIN')
  await raw.query(`INSERT INTO "${schema}".queues (name) VALUES ($1) ON CONFLICT DO NOTHING`, [queue])
  for (const r of rows) {
    const state = r.state ?? (r.availableAt !== undefined && r.availableAt > now ? 1 : 0)
    await raw.query(
      `INSERT INTO "${schema}".jobs (id, queue, priority, state, available_at, deliveries, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      [r.id, queue, r.priority ?? 0, state, r.availableAt ?? 0, r.deliveries ?? 0, r.body],
    )
  }
  await raw.query('COMMIT')
}

const envelope = (id: string) =>
  JSON.stringify({ v: 1, id, task: 'poison.add', args: [1, 2], queue: 'q', sent_at: '2024-01-01T00:00:00Z' })

const engineCases: EngineCase[] = [
  {
    name: 'a negative priority',
    raw: { id: `neg-${randomUUID()}`, body: 'not json', priority: -3 } satisfies PgRaw,
    matches: (d) => d.id.startsWith('neg-'),
  },
  {
    name: 'a priority above 9',
    raw: { id: `big-${randomUUID()}`, body: '[]', priority: 42 } satisfies PgRaw,
    matches: (d) => d.id.startsWith('big-'),
  },
  (() => {
    const id = `huge-${randomUUID()}`
    return {
      name: 'a huge delivery count',
      raw: { id, body: envelope(id), deliveries: 2_000_000_000 } satisfies PgRaw,
      matches: (d: { id: string }) => d.id === id,
      reason: /delivered \d+ times/,
    }
  })(),
  {
    name: 'a due time far in the past',
    raw: { id: `past-${randomUUID()}`, body: '{"v":1}', availableAt: -1e15, state: 1 } satisfies PgRaw,
    matches: (d) => d.id.startsWith('past-'),
  },
  {
    name: 'a lease that expired long ago, with a token nobody holds',
    raw: { id: `lease-${randomUUID()}`, body: '{}', availableAt: 1, state: 2 } satisfies PgRaw,
    matches: (d) => d.id.startsWith('lease-'),
  },
]

poisonConformance({
  name: 'postgres',
  app: (options) => new App({ broker: url, ...options }),
  writeRaw: async (queue, entries) => {
    const now = Date.now()
    await insert(
      queue,
      entries.map((e): PgRaw => {
        if ('raw' in e) return e.raw as PgRaw
        return {
          id: e.id,
          body: typeof e.body === 'string' ? e.body : Buffer.from(e.body).toString('utf8'),
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
