/**
 * The coordination part on SQLite: fenced locks, joins, token buckets, a bounded event log and
 * broadcast, in tables of the same file (schema.ts). Each call is one transaction. Time is
 * Date.now(): every process on a SQLite file shares the host's clock.
 */
import type BetterSqlite3 from 'better-sqlite3'
import type {
  BucketSpec,
  Coordination,
  CoordinationCapabilities,
  JoinResult,
  Lock,
  LoggedEvent,
  RecordPutOptions,
  RecordWrite,
  StoredRecord,
} from '../../contracts/coordination.js'
import { checkTake, RECORD_LIST_LIMIT, recordExpiries } from '../../contracts/coordination.js'
import { BrokerError } from '../../core/errors.js'
import { Broadcaster, broadcastStatements, type BroadcastStatements } from './broadcast.js'
import type { Db, SqliteDatabase } from './database.js'
import { SqlitePart } from './part.js'
import type { Statement } from './statements.js'

/** Lapsed joins and full buckets are deleted at most this often per connection. */
const HOUSEKEEPING_MS = 10_000

type Statements = Record<
  | 'lock'
  | 'takeLock'
  | 'renewLock'
  | 'releaseLock'
  | 'joinExpiry'
  | 'setJoin'
  | 'addMember'
  | 'countMembers'
  | 'members'
  | 'dropMembers'
  | 'dropJoin'
  | 'lapsedJoins'
  | 'bucket'
  | 'setBucket'
  | 'pruneBuckets'
  | 'append'
  | 'trim'
  | 'read'
  | 'putRecord'
  | 'record'
  | 'listRecords'
  | 'removeRecord'
  | 'removeRecordIf'
  | 'pruneRecords'
  | 'heldLock',
  Statement
>

type Tx<F extends (...args: never[]) => unknown> = BetterSqlite3.Transaction<F>

function statements(db: Db): Statements {
  return {
    lock: db.prepare('SELECT owner, fence, expires_at FROM celeriac_locks WHERE name = ?'),
    takeLock: db.prepare(
      `INSERT INTO celeriac_locks (name, owner, fence, expires_at) VALUES (@name, @owner, @fence, @expiresAt)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, fence = excluded.fence, expires_at = excluded.expires_at`,
    ),
    renewLock: db.prepare(
      'UPDATE celeriac_locks SET expires_at = @expiresAt WHERE name = @name AND owner = @owner AND fence = @fence AND expires_at > @now',
    ),
    releaseLock: db.prepare(
      'UPDATE celeriac_locks SET owner = NULL, expires_at = 0 WHERE name = @name AND owner = @owner AND fence = @fence AND expires_at > @now',
    ),
    joinExpiry: db.prepare('SELECT expires_at FROM celeriac_joins WHERE key = ?').pluck(),
    setJoin: db.prepare(
      'INSERT INTO celeriac_joins (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at',
    ),
    addMember: db.prepare('INSERT OR IGNORE INTO celeriac_join_members (key, member) VALUES (?, ?)'),
    countMembers: db.prepare('SELECT count(*) FROM celeriac_join_members WHERE key = ?').pluck(),
    members: db
      .prepare(
        `SELECT member FROM celeriac_join_members
         WHERE key = @key AND EXISTS (SELECT 1 FROM celeriac_joins WHERE key = @key AND expires_at > @now)`,
      )
      .pluck(),
    dropMembers: db.prepare('DELETE FROM celeriac_join_members WHERE key = ?'),
    dropJoin: db.prepare('DELETE FROM celeriac_joins WHERE key = ?'),
    lapsedJoins: db
      .prepare('SELECT key FROM celeriac_joins WHERE expires_at <= ? ORDER BY expires_at LIMIT 100')
      .pluck(),
    bucket: db.prepare('SELECT tokens, updated_at FROM celeriac_buckets WHERE key = ?'),
    setBucket: db.prepare(
      `INSERT INTO celeriac_buckets (key, tokens, updated_at, full_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at, full_at = excluded.full_at`,
    ),
    pruneBuckets: db.prepare(
      'DELETE FROM celeriac_buckets WHERE key IN (SELECT key FROM celeriac_buckets WHERE full_at <= ? LIMIT 100)',
    ),
    append: db.prepare('INSERT INTO celeriac_events (stream, data) VALUES (?, ?)'),
    trim: db.prepare(
      `DELETE FROM celeriac_events WHERE stream = @stream
       AND id <= (SELECT id FROM celeriac_events WHERE stream = @stream ORDER BY id DESC LIMIT 1 OFFSET @keep)`,
    ),
    read: db.prepare('SELECT id, data FROM celeriac_events WHERE stream = ? AND id > ? ORDER BY id LIMIT ?'),
    putRecord: db.prepare(
      `INSERT INTO celeriac_records (space, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (space, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    record: db
      .prepare(
        'SELECT value FROM celeriac_records WHERE space = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)',
      )
      .pluck(),
    listRecords: db.prepare(
      `SELECT key, value, expires_at AS expiresAt FROM celeriac_records
       WHERE space = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?`,
    ),
    removeRecord: db.prepare(
      'DELETE FROM celeriac_records WHERE space = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)',
    ),
    removeRecordIf: db.prepare(
      'DELETE FROM celeriac_records WHERE space = ? AND key = ? AND value = ? AND (expires_at IS NULL OR expires_at > ?)',
    ),
    pruneRecords: db.prepare(
      `DELETE FROM celeriac_records WHERE (space, key) IN
       (SELECT space, key FROM celeriac_records WHERE expires_at <= ? LIMIT 100)`,
    ),
    heldLock: db
      .prepare('SELECT 1 FROM celeriac_locks WHERE name = ? AND owner = ? AND fence = ? AND expires_at > ?')
      .pluck(),
  }
}

interface Prepared extends Statements {
  broadcast: BroadcastStatements
  acquireTx: Tx<(name: string, owner: string, ttlMs: number) => Lock | null>
  joinTx: Tx<(key: string, members: readonly string[], ttlMs: number) => JoinResult>
  takeTx: Tx<(key: string, n: number, spec: BucketSpec) => number>
  appendTx: Tx<(stream: string, events: readonly string[], maxLen: number) => string[]>
  putTx: Tx<(space: string, records: readonly RecordWrite[], options?: RecordPutOptions) => boolean>
  putIfAbsentTx: Tx<(space: string, record: RecordWrite) => string | null>
  removeTx: Tx<(space: string, keys: readonly string[], ifValue: string | undefined) => number>
}

export class SqliteCoordination extends SqlitePart<Prepared> implements Coordination {
  readonly capabilities: CoordinationCapabilities = { broadcast: 'poll' }
  private readonly broadcaster = new Broadcaster(this.database, () => this.st.broadcast)
  private lastHousekeeping = 0

  /** A path opens a connection of its own; a backend passes the connection its parts share. */
  constructor(target: string | SqliteDatabase) {
    super(target, 'coordination')
  }

  override async close(): Promise<void> {
    await this.broadcaster.stop()
    await super.close()
  }

  protected prepare(db: Db): Prepared {
    const st = statements(db)
    return {
      ...st,
      broadcast: broadcastStatements(db),
      acquireTx: db.transaction((name: string, owner: string, ttlMs: number) => {
        const now = Date.now()
        const row = st.lock.get(name) as
          { owner: string | null; fence: number; expires_at: number } | undefined
        const held = row !== undefined && row.owner !== null && row.expires_at > now
        if (held && row.owner !== owner) return null
        // A renewal by the owner keeps the fence; a free or lapsed lock changes hands.
        const fence = held ? row.fence : (row?.fence ?? 0) + 1
        const expiresAt = now + ttlMs
        st.takeLock.run({ name, owner, fence, expiresAt })
        return { name, owner, fence, expiresAt }
      }),
      joinTx: db.transaction((key: string, members: readonly string[], ttlMs: number) => {
        const now = Date.now()
        this.housekeeping(st, now)
        const expiry = st.joinExpiry.get(key) as number | undefined
        if (expiry !== undefined && expiry <= now) st.dropMembers.run(key)
        let added = 0
        for (const m of members) added += st.addMember.run(key, m).changes
        st.setJoin.run(key, now + ttlMs)
        return { size: st.countMembers.get(key) as number, added }
      }),
      takeTx: db.transaction((key: string, n: number, spec: BucketSpec) => {
        const now = Date.now()
        this.housekeeping(st, now)
        const burst = spec.burst ?? spec.rate
        const perMs = spec.rate / spec.perMs
        const row = st.bucket.get(key) as { tokens: number; updated_at: number } | undefined
        const tokens = row ? Math.min(burst, row.tokens + Math.max(0, now - row.updated_at) * perMs) : burst
        if (tokens < n) return Math.ceil((n - tokens) / perMs)
        const left = tokens - n
        st.setBucket.run(key, left, now, now + Math.ceil((burst - left) / perMs))
        return 0
      }),
      appendTx: db.transaction((stream: string, events: readonly string[], maxLen: number) => {
        const ids = events.map((e) => String(st.append.run(stream, e).lastInsertRowid))
        st.trim.run({ stream, keep: Math.max(0, maxLen) })
        return ids
      }),
      putTx: db.transaction((space: string, records: readonly RecordWrite[], options?: RecordPutOptions) => {
        const now = Date.now()
        const expiries = recordExpiries(space, records, now)
        const lock = options?.ifLock
        if (lock && !st.heldLock.get(lock.name, lock.owner, lock.fence, now)) return false
        this.housekeeping(st, now)
        records.forEach((r, i) => st.putRecord.run(space, r.key, r.value, expiries[i]))
        return true
      }),
      putIfAbsentTx: db.transaction((space: string, record: RecordWrite) => {
        const now = Date.now()
        const [expiresAt] = recordExpiries(space, [record], now)
        const there = st.record.get(space, record.key, now) as string | undefined
        if (there !== undefined) return there
        st.putRecord.run(space, record.key, record.value, expiresAt)
        return null
      }),
      removeTx: db.transaction((space: string, keys: readonly string[], ifValue: string | undefined) => {
        const now = Date.now()
        let removed = 0
        for (const key of keys)
          removed += (
            ifValue === undefined
              ? st.removeRecord.run(space, key, now)
              : st.removeRecordIf.run(space, key, ifValue, now)
          ).changes
        return removed
      }),
    }
  }

  /** Deletes a few lapsed joins and full buckets, inside a write transaction already open. */
  private housekeeping(st: Statements, now: number): void {
    if (now - this.lastHousekeeping < HOUSEKEEPING_MS) return
    this.lastHousekeeping = now
    for (const key of st.lapsedJoins.all(now) as string[]) {
      st.dropMembers.run(key)
      st.dropJoin.run(key)
    }
    st.pruneBuckets.run(now)
    st.pruneRecords.run(now)
  }

  acquire(name: string, owner: string, ttlMs: number): Promise<Lock | null> {
    return this.database.write(this.st.acquireTx, name, owner, ttlMs)
  }

  async renew(lock: Lock, ttlMs: number): Promise<boolean> {
    const st = this.st
    const now = Date.now()
    const args = { name: lock.name, owner: lock.owner, fence: lock.fence, expiresAt: now + ttlMs, now }
    return (await this.database.run(() => st.renewLock.run(args).changes)) > 0
  }

  async release(lock: Lock): Promise<boolean> {
    const st = this.st
    const args = { name: lock.name, owner: lock.owner, fence: lock.fence, now: Date.now() }
    return (await this.database.run(() => st.releaseLock.run(args).changes)) > 0
  }

  join(key: string, members: readonly string[], ttlMs: number): Promise<JoinResult> {
    return this.database.write(this.st.joinTx, key, members, ttlMs)
  }

  async members(key: string): Promise<string[]> {
    const st = this.st
    return (await this.database.run(() => st.members.all({ key, now: Date.now() }))) as string[]
  }

  async forgetJoins(keys: readonly string[]): Promise<void> {
    const st = this.st
    const tx = this.database.db.transaction(() => {
      for (const key of keys) {
        st.dropMembers.run(key)
        st.dropJoin.run(key)
      }
    })
    await this.database.write(tx)
  }

  async take(key: string, n: number, spec: BucketSpec): Promise<number> {
    checkTake(key, n, spec)
    if (n <= 0) return 0
    return this.database.write(this.st.takeTx, key, n, spec)
  }

  async append(stream: string, events: readonly string[], maxLen: number): Promise<string[]> {
    if (!events.length) return []
    const ids = await this.database.write(this.st.appendTx, stream, events, maxLen)
    this.database.notify()
    return ids
  }

  async read(stream: string, after: string | null, limit: number): Promise<LoggedEvent[]> {
    const from = after === null ? 0 : Number(after)
    if (!Number.isSafeInteger(from) || from < 0)
      throw new BrokerError(`event stream "${stream}": "${after}" is not an id this log returned`)
    const st = this.st
    const rows = (await this.database.run(() => st.read.all(stream, from, Math.max(0, limit)))) as {
      id: number
      data: string
    }[]
    return rows.map((r) => ({ id: String(r.id), data: r.data }))
  }

  put(space: string, records: readonly RecordWrite[], options?: RecordPutOptions): Promise<boolean> {
    return this.database.write(this.st.putTx, space, records, options)
  }

  putIfAbsent(space: string, record: RecordWrite): Promise<string | null> {
    return this.database.write(this.st.putIfAbsentTx, space, record)
  }

  async get(space: string, keys: readonly string[]): Promise<(string | null)[]> {
    const st = this.st
    const now = Date.now()
    return this.database.run(() =>
      keys.map((k) => (st.record.get(space, k, now) as string | undefined) ?? null),
    )
  }

  async list(space: string, limit = RECORD_LIST_LIMIT): Promise<StoredRecord[]> {
    const st = this.st
    return (await this.database.run(() =>
      st.listRecords.all(space, Date.now(), Math.max(0, limit)),
    )) as StoredRecord[]
  }

  remove(space: string, keys: readonly string[], options?: { readonly ifValue?: string }): Promise<number> {
    return this.database.write(this.st.removeTx, space, keys, options?.ifValue)
  }

  broadcast(channel: string, message: string): Promise<void> {
    return this.broadcaster.send(channel, message)
  }

  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    return this.broadcaster.subscribe(channel, onMessage)
  }
}
