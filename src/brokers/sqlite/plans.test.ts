/**
 * The statements a reserve, a settle and a stats call run must find rows through an index, never
 * by scanning the jobs table: a scan costs as much as the queue is long, on every reserve. SQLite
 * uses a partial index only when a query repeats the index's own condition, which is easy to lose
 * in an edit, so each plan is checked here.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { describe, it } from 'node:test'
import { migrate } from './migrate.js'
import { SCHEMA } from './schema.js'
import { prepareStatements, type Statements } from './statements.js'

const HOT: readonly (keyof Statements)[] = [
  'reclaimExpired',
  'promoteDue',
  'pickOne',
  'pickOneWithPriority',
  'nextDue',
  'mightHaveWork',
  'ack',
  'extend',
  'release',
  'retry',
  'defer',
  'take',
]

describe('SQLite query plans', () => {
  it('no hot statement scans celeriac_jobs', () => {
    const db = new Database(':memory:')
    db.exec(SCHEMA)
    migrate(db, ':memory:')
    const st = prepareStatements(db)
    for (const name of HOT) {
      const source = st[name].source
      const named = [...source.matchAll(/@(\w+)/g)].map((m) => m[1]!)
      const params = named.length
        ? [Object.fromEntries(named.map((n) => [n, n === 'queues' ? '["a"]' : 0]))]
        : Array.from(source.matchAll(/\?/g), () => 0)
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${source}`)
        .all(...params)
        .map((r) => (r as { detail: string }).detail)
      assert.ok(
        !plan.some((d) => /^SCAN celeriac_jobs\b/.test(d)),
        `${name} scans the jobs table:\n${plan.join('\n')}`,
      )
    }
    db.close()
  })
})
