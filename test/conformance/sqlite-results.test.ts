/**
 * The SQLite result store: fenced writes, fenced forget, endless waits, and the migration of a
 * file created with schema version 1 (before result records kept a fence).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { after, describe, it } from 'node:test'
import type BetterSqlite3 from 'better-sqlite3'
import { SqliteBroker, SqliteResultStore } from '../../src/brokers/sqlite/index.js'
import type { ResultRecord } from '../../src/contracts/result-store.js'
import type { TaskState } from '../../src/core/states.js'

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
const dir = mkdtempSync(join(tmpdir(), 'celeriac-sqlite-results-'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function rec(id: string, state: TaskState, fence: number | null, result: string | null = null): ResultRecord {
  return {
    id,
    state,
    task: 't',
    result,
    error: null,
    retries: 0,
    worker: 'w',
    startedAt: 1,
    doneAt: state === 'SUCCESS' || state === 'FAILURE' || state === 'REVOKED' ? 2 : null,
    updatedAt: Date.now(),
    expiresAt: null,
    fence,
  }
}

/** The schema celeriac 1 created, verbatim: a user's file from before this version. */
const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS celeriac_jobs (
  seq          INTEGER PRIMARY KEY,
  id           TEXT    NOT NULL UNIQUE,
  queue        TEXT    NOT NULL,
  priority     INTEGER NOT NULL DEFAULT 0,
  state        INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL DEFAULT 0,
  token        INTEGER NOT NULL DEFAULT 0,
  deliveries   INTEGER NOT NULL DEFAULT 0,
  body         TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_jobs_ready ON celeriac_jobs (queue, priority DESC, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS celeriac_jobs_timed ON celeriac_jobs (available_at) WHERE state <> 0;

CREATE TABLE IF NOT EXISTS celeriac_dead (
  id         TEXT    PRIMARY KEY,
  queue      TEXT    NOT NULL,
  priority   INTEGER NOT NULL,
  body       TEXT    NOT NULL,
  reason     TEXT    NOT NULL,
  failed_at  INTEGER NOT NULL,
  deliveries INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_dead_failed ON celeriac_dead (failed_at);

CREATE TABLE IF NOT EXISTS celeriac_queues (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS celeriac_paused (queue TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS celeriac_throughput (
  queue  TEXT    NOT NULL,
  bucket INTEGER NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (queue, bucket)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS celeriac_results (
  id         TEXT    PRIMARY KEY,
  state      TEXT    NOT NULL,
  task       TEXT,
  result     TEXT,
  error      TEXT,
  retries    INTEGER NOT NULL DEFAULT 0,
  worker     TEXT,
  started_at INTEGER,
  done_at    INTEGER,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS celeriac_results_expires ON celeriac_results (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS celeriac_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO celeriac_meta (key, value) VALUES ('schema_version', '1');
`

describe('SQLite result store', () => {
  const stores: SqliteResultStore[] = []
  const open = async (file = join(dir, 'results.db')) => {
    const s = new SqliteResultStore(file)
    await s.connect()
    stores.push(s)
    return s
  }
  after(async () => {
    for (const s of stores) await s.close()
  })

  it('drops writes of a lower fence and keeps the highest fence written', async () => {
    const s = await open()
    const id = randomUUID()
    await s.set([rec(id, 'STARTED', 5)])
    await s.set([rec(id, 'SUCCESS', 4, 'stale')])
    assert.equal((await s.get([id]))[0]!.state, 'STARTED', 'a lower fence is a stale delivery')
    await s.set([rec(id, 'SUCCESS', 5, 'ok')])
    await s.set([rec(id, 'FAILURE', null)])
    const [r] = await s.get([id])
    assert.equal(r!.state, 'FAILURE', 'an unfenced write is never dropped as stale')
    assert.equal(r!.fence, 5, 'the highest fence stays with the record')
  })

  it('lets a state that is not ready replace a ready one only with a higher fence', async () => {
    const s = await open()
    const id = randomUUID()
    await s.set([rec(id, 'FAILURE', 3)])
    await s.set([rec(id, 'STARTED', 3)])
    await s.set([rec(id, 'RETRY', null)])
    assert.equal((await s.get([id]))[0]!.state, 'FAILURE', 'same fence or unknown: the result stays')
    await s.set([rec(id, 'STARTED', 7)])
    const [r] = await s.get([id])
    assert.deepEqual([r!.state, r!.fence], ['STARTED', 7], 'a replay runs again with a higher fence')
    const unfenced = randomUUID()
    await s.set([rec(unfenced, 'REVOKED', null)])
    await s.set([rec(unfenced, 'STARTED', 9)])
    assert.equal((await s.get([unfenced]))[0]!.state, 'REVOKED', 'an unfenced result is not hidden')
  })

  it('applies each record of a batch against the ones before it', async () => {
    const s = await open()
    const id = randomUUID()
    await s.set([
      rec(id, 'STARTED', 2),
      rec(id, 'SUCCESS', 2, 'ok'),
      rec(id, 'STARTED', 2),
      rec(id, 'SUCCESS', 1),
    ])
    const [r] = await s.get([id])
    assert.deepEqual([r!.state, r!.result, r!.fence], ['SUCCESS', 'ok', 2])
  })

  it('forgets a record only while its fence is at most the bound given', async () => {
    const s = await open()
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
    await s.set([rec(a, 'FAILURE', 4), rec(b, 'FAILURE', 9), rec(c, 'FAILURE', 9), rec(d, 'REVOKED', null)])
    assert.equal(await s.forget([a, b, c, d], { upToFence: [4, 5, null, 1] }), 3)
    assert.deepEqual(
      (await s.get([a, b, c, d])).map((r) => r?.state ?? null),
      [null, 'FAILURE', null, null],
    )
    assert.equal(await s.forget([b]), 1, 'without bounds: whatever the fence')
  })

  it('waits without a timeout (absent or Infinity) until the record is ready', async () => {
    const s = await open()
    const writer = await open()
    for (const timeoutMs of [undefined, Infinity]) {
      const id = randomUUID()
      const t0 = Date.now()
      const waiting = s.wait(id, timeoutMs === undefined ? {} : { timeoutMs })
      await sleep(50)
      await writer.set([rec(id, 'STARTED', 1)])
      await sleep(1200)
      await writer.set([rec(id, 'SUCCESS', 1, 'done')])
      const r = await waiting
      assert.equal(r!.result, 'done')
      assert.ok(Date.now() - t0 >= 1200, 'kept waiting past the first slice')
    }
    const ac = new AbortController()
    const aborted = s.wait(randomUUID(), { signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    assert.equal(await aborted, null, 'the signal ends an endless wait')
  })

  it('migrates a file created with schema version 1, keeping its jobs and results', async () => {
    const file = join(dir, 'v1.db')
    const old = new Database(file)
    old.pragma('journal_mode = WAL')
    old.exec(SCHEMA_V1)
    old
      .prepare(
        "INSERT INTO celeriac_results (id, state, retries, updated_at, result) VALUES ('old', 'SUCCESS', 0, 1, 'r')",
      )
      .run()
    // A job leased under version 1, with a token drawn at random.
    old
      .prepare(
        "INSERT INTO celeriac_jobs (id, queue, state, available_at, token, deliveries, body) VALUES ('j', 'mq', 2, 1, 123456789, 1, 'b')",
      )
      .run()
    old.close()

    const s = await open(file)
    const [r] = await s.get(['old'])
    assert.deepEqual([r!.state, r!.result, r!.fence], ['SUCCESS', 'r', null])
    await s.set([rec('old', 'STARTED', 1)])
    assert.equal((await s.get(['old']))[0]!.state, 'SUCCESS', 'the old unfenced result is kept')
    await s.set([rec('new', 'SUCCESS', 3)])
    assert.equal((await s.get(['new']))[0]!.fence, 3)

    const broker = new SqliteBroker(file)
    await broker.connect()
    const [d] = await broker.reserve(['mq'], 1, { leaseMs: 30_000 })
    assert.equal(d!.id, 'j', 'the expired version-1 lease is redelivered')
    assert.ok(d!.fence > 123456789, 'fences continue above the tokens of version 1')
    await broker.close()

    const check = new Database(file, { readonly: true })
    const version = check
      .prepare("SELECT value FROM celeriac_meta WHERE key = 'schema_version'")
      .pluck()
      .get()
    check.close()
    assert.equal(version, '2')
  })
})
