/**
 * One better-sqlite3 connection per database file per process, shared by the broker and the
 * result store, plus the change watch that wakes waiting consumers.
 *
 * Other processes' commits are seen through `PRAGMA data_version`, which changes whenever another
 * connection commits: polling it costs microseconds and takes no lock, so a waiting consumer can
 * look every few milliseconds without touching the tables.
 */
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'
import { BadUrlError, BrokerError } from '../../core/errors.js'
import { migrate } from './migrate.js'
import { SCHEMA } from './schema.js'

export type Db = BetterSqlite3.Database

export interface SharedDb {
  readonly db: Db
  readonly path: string
  /** Resolves on a local commit or when data_version moves (another process committed). */
  changed(ms: number, signal?: AbortSignal): Promise<void>
  /** Wakes local waiters after this process committed. */
  notify(): void
  release(): void
}

interface Entry {
  shared: SharedDb
  refs: number
}

const open = new Map<string, Entry>()

/** Parses `sqlite://./file.db`, `sqlite:///abs/file.db` or `sqlite://file.db`. */
export function sqlitePath(url: string): string {
  const m = /^sqlite:\/\/([^?#]*)/i.exec(url)
  const raw = m ? decodeURIComponent(m[1]!) : ''
  if (!raw)
    throw new BadUrlError(
      url,
      ['sqlite'],
      'it names no file; write sqlite://./celeriac.db or sqlite:///absolute/path.db',
    )
  return resolve(raw)
}

const require = createRequire(import.meta.url)

function connect(path: string): Db {
  let Database: typeof BetterSqlite3
  try {
    Database = require('better-sqlite3') as typeof BetterSqlite3
  } catch (err) {
    throw new BrokerError('the SQLite broker needs better-sqlite3 12.x: npm install better-sqlite3@12', {
      cause: err,
    })
  }
  try {
    mkdirSync(dirname(path), { recursive: true })
    const db = new Database(path, { timeout: 15_000 })
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('temp_store = MEMORY')
    db.pragma('cache_size = -32000')
    db.transaction(() => {
      db.exec(SCHEMA)
      migrate(db, path)
    }).immediate()
    return db
  } catch (err) {
    throw new BrokerError(`cannot open SQLite database ${path}: ${(err as Error).message}`, { cause: err })
  }
}

export function acquire(path: string): SharedDb {
  const existing = open.get(path)
  if (existing) {
    existing.refs++
    return existing.shared
  }
  const db = connect(path)
  const waiters = new Set<() => void>()
  const dataVersion = db.prepare('PRAGMA data_version').pluck()
  let version = dataVersion.get() as number
  let timer: NodeJS.Timeout | null = null
  const wakeAll = () => {
    for (const w of [...waiters]) w()
  }
  const poll = () => {
    const v = dataVersion.get() as number
    if (v !== version) {
      version = v
      wakeAll()
    }
    if (waiters.size === 0 && timer) {
      clearInterval(timer)
      timer = null
    }
  }
  const shared: SharedDb = {
    db,
    path,
    notify: wakeAll,
    changed(ms, signal) {
      return new Promise((res) => {
        const done = () => {
          clearTimeout(t)
          signal?.removeEventListener('abort', done)
          waiters.delete(done)
          res()
        }
        const t = setTimeout(done, ms)
        signal?.addEventListener('abort', done, { once: true })
        waiters.add(done)
        timer ??= setInterval(poll, 4)
      })
    },
    release() {
      const e = open.get(path)
      if (!e || --e.refs > 0) return
      open.delete(path)
      if (timer) clearInterval(timer)
      wakeAll()
      db.close()
    },
  }
  open.set(path, { shared, refs: 1 })
  return shared
}
