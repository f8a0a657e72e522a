/**
 * The coordination part on PostgreSQL: fenced locks, joins, token buckets and the bounded event
 * log in tables of the schema (one statement or function call each, on the database's clock), and
 * broadcast through NOTIFY (broadcast.ts), pushed to subscribers.
 */
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
import { Broadcaster } from './broadcast.js'
import type { PgDatabase } from './database.js'
import { PgPart } from './part.js'
import {
  ACQUIRE_LOCK,
  APPEND,
  FORGET_JOINS,
  GET_RECORDS,
  JOIN,
  LIST_RECORDS,
  MEMBERS,
  PRUNE_BUCKETS,
  PRUNE_JOINS,
  PRUNE_RECORDS,
  PUT_RECORD_IF_ABSENT,
  PUT_RECORDS,
  READ,
  RELEASE_LOCK,
  REMOVE_RECORDS,
  RENEW_LOCK,
  TAKE,
} from './sql/coordination.js'

/** Lapsed joins and full buckets are deleted at most this often per process. */
const HOUSEKEEPING_MS = 10_000

export class PostgresCoordination extends PgPart implements Coordination {
  readonly capabilities: CoordinationCapabilities = { broadcast: 'push' }
  private readonly broadcaster = new Broadcaster(() => this.ready())
  private lastHousekeeping = 0

  /** A URL opens a pool of its own; a backend passes the database its parts share. */
  constructor(target: string | PgDatabase) {
    super(target, 'coordination')
  }

  protected override async closing(): Promise<void> {
    await this.broadcaster.stop()
  }

  /** Deletes a few lapsed joins and full buckets, now and then, off the caller's path. */
  private housekeeping(): void {
    const now = Date.now()
    if (now - this.lastHousekeeping < HOUSEKEEPING_MS) return
    this.lastHousekeeping = now
    const db = this.ready()
    void Promise.all([db.run(PRUNE_JOINS, []), db.run(PRUNE_BUCKETS, []), db.run(PRUNE_RECORDS, [])]).catch(
      () => {},
    )
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<Lock | null> {
    const { rows } = await this.ready().run<{ owner: string; fence: number; expires_at: number }>(
      ACQUIRE_LOCK,
      [name, owner, ttlMs],
    )
    const r = rows[0]
    return r ? { name, owner: r.owner, fence: r.fence, expiresAt: r.expires_at } : null
  }

  async renew(lock: Lock, ttlMs: number): Promise<boolean> {
    const r = await this.ready().run(RENEW_LOCK, [lock.name, lock.owner, lock.fence, ttlMs])
    return (r.rowCount ?? 0) > 0
  }

  async release(lock: Lock): Promise<boolean> {
    const r = await this.ready().run(RELEASE_LOCK, [lock.name, lock.owner, lock.fence])
    return (r.rowCount ?? 0) > 0
  }

  async join(key: string, members: readonly string[], ttlMs: number): Promise<JoinResult> {
    this.housekeeping()
    const { rows } = await this.ready().run<JoinResult>(JOIN, [key, members, ttlMs])
    return { size: rows[0]!.size, added: rows[0]!.added }
  }

  async members(key: string): Promise<string[]> {
    const { rows } = await this.ready().run<{ member: string }>(MEMBERS, [key])
    return rows.map((r) => r.member)
  }

  async forgetJoins(keys: readonly string[]): Promise<void> {
    if (keys.length) await this.ready().run(FORGET_JOINS, [keys])
  }

  async take(key: string, n: number, spec: BucketSpec): Promise<number> {
    const burst = checkTake(key, n, spec)
    if (n <= 0) return 0
    this.housekeeping()
    const { rows } = await this.ready().run<{ wait: number }>(TAKE, [key, n, spec.rate / spec.perMs, burst])
    return rows[0]!.wait
  }

  async append(stream: string, events: readonly string[], maxLen: number): Promise<string[]> {
    if (!events.length) return []
    const { rows } = await this.ready().run<{ id: number }>(APPEND, [stream, events, maxLen])
    return rows
      .map((r) => r.id)
      .sort((a, b) => a - b)
      .map(String)
  }

  async read(stream: string, after: string | null, limit: number): Promise<LoggedEvent[]> {
    const from = after === null ? 0 : Number(after)
    if (!Number.isSafeInteger(from) || from < 0)
      throw new BrokerError(`event stream "${stream}": "${after}" is not an id this log returned`)
    const { rows } = await this.ready().run<{ id: number; data: string }>(READ, [
      stream,
      from,
      Math.max(0, limit),
    ])
    return rows.map((r) => ({ id: String(r.id), data: r.data }))
  }

  async put(space: string, records: readonly RecordWrite[], options?: RecordPutOptions): Promise<boolean> {
    const ttls = recordExpiries(space, records, 0)
    // One row per key, the last write winning, as a sequence of writes would leave it.
    const last = new Map<string, number>()
    records.forEach((r, i) => last.set(r.key, i))
    const at = [...last.values()]
    const lock = options?.ifLock
    this.housekeeping()
    const { rows } = await this.ready().run<{ ok: boolean }>(PUT_RECORDS, [
      space,
      at.map((i) => records[i]!.key),
      at.map((i) => records[i]!.value),
      at.map((i) => ttls[i]),
      lock !== undefined,
      lock?.name ?? null,
      lock?.owner ?? null,
      lock?.fence ?? null,
    ])
    return rows[0]!.ok
  }

  async putIfAbsent(space: string, record: RecordWrite): Promise<string | null> {
    const [ttl] = recordExpiries(space, [record], 0)
    for (;;) {
      const { rows } = await this.ready().run<{ n: string; value: string | null }>(PUT_RECORD_IF_ABSENT, [
        space,
        record.key,
        record.value,
        ttl,
      ])
      const r = rows[0]!
      if (Number(r.n) > 0) return null
      if (r.value !== null) return r.value
      // A concurrent writer's row committed after this statement's snapshot: read it again.
    }
  }

  async get(space: string, keys: readonly string[]): Promise<(string | null)[]> {
    if (!keys.length) return []
    const { rows } = await this.ready().run<{ key: string; value: string }>(GET_RECORDS, [space, keys])
    const found = new Map(rows.map((r) => [r.key, r.value]))
    return keys.map((k) => found.get(k) ?? null)
  }

  async list(space: string, limit = RECORD_LIST_LIMIT): Promise<StoredRecord[]> {
    const { rows } = await this.ready().run<{ key: string; value: string; expires_at: string | null }>(
      LIST_RECORDS,
      [space, Math.max(0, limit)],
    )
    return rows.map((r) => ({
      key: r.key,
      value: r.value,
      expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    }))
  }

  async remove(
    space: string,
    keys: readonly string[],
    options?: { readonly ifValue?: string },
  ): Promise<number> {
    if (!keys.length) return 0
    const r = await this.ready().run(REMOVE_RECORDS, [space, keys, options?.ifValue ?? null])
    return r.rowCount ?? 0
  }

  broadcast(channel: string, message: string): Promise<void> {
    return this.broadcaster.send(channel, message)
  }

  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    return this.broadcaster.subscribe(channel, onMessage)
  }
}
