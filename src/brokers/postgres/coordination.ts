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
} from '../../contracts/coordination.js'
import { checkTake } from '../../contracts/coordination.js'
import { BrokerError } from '../../core/errors.js'
import { Broadcaster } from './broadcast.js'
import type { PgDatabase } from './database.js'
import { PgPart } from './part.js'
import {
  ACQUIRE_LOCK,
  APPEND,
  FORGET_JOINS,
  JOIN,
  MEMBERS,
  PRUNE_BUCKETS,
  PRUNE_JOINS,
  READ,
  RELEASE_LOCK,
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
    void Promise.all([db.run(PRUNE_JOINS, []), db.run(PRUNE_BUCKETS, [])]).catch(() => {})
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

  broadcast(channel: string, message: string): Promise<void> {
    return this.broadcaster.send(channel, message)
  }

  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    return this.broadcaster.subscribe(channel, onMessage)
  }
}
