/**
 * The coordination part: what beat, canvas, remote control, rate limits and the dashboard need
 * from a shared engine besides the queue itself. Every call is one round trip (one statement or
 * transaction, one Lua script); time is the engine's clock (server TIME, the database's), never a
 * worker's, so clock skew between hosts cannot hand a lock to two owners.
 *
 * - Fenced locks with a TTL: one beat leader, one housekeeping leader.
 * - Joins: idempotent set-based counters (a chord's finished members, a group's results).
 * - Token buckets: rate limits shared by all workers.
 * - A bounded event log: task and worker events that other processes read (dashboard, `celeriac
 *   events`).
 * - Broadcast: messages to every subscriber of a channel (inspect/control, revoke), replies on a
 *   channel the requester names.
 * - Records: small named values in a namespace, each with an optional expiry (the worker registry,
 *   revocations, beat entries and their last fires, unique-job keys), writable under a lock's fence.
 *
 * Keys and channels are plain strings chosen by the caller; an engine maps them into its own
 * namespace (the URL's prefix on Redis, tables on SQLite and PostgreSQL).
 */

/** A lock held by an owner. */
export interface Lock {
  readonly name: string
  readonly owner: string
  /**
   * Grows every time the lock changes hands (never on a renewal by the same owner), so what a
   * leader writes can be fenced off once a later leader exists.
   */
  readonly fence: number
  /** Epoch ms (engine clock) when it lapses unless renewed. */
  readonly expiresAt: number
}

export interface JoinResult {
  /** Distinct members of the join after this call. */
  readonly size: number
  /** How many of the given members were new. A repeated member changes nothing. */
  readonly added: number
}

export interface BucketSpec {
  /** Tokens added per `perMs`. */
  readonly rate: number
  readonly perMs: number
  /** Most tokens the bucket holds (the burst); default `rate`. */
  readonly burst?: number
}

export interface LoggedEvent {
  /** Increasing within a stream; pass the last one seen to `read` to continue after it. */
  readonly id: string
  readonly data: string
}

/** A record as stored: its key, value, and when it lapses (epoch ms, engine clock; null: never). */
export interface StoredRecord {
  readonly key: string
  readonly value: string
  readonly expiresAt: number | null
}

export interface RecordWrite {
  readonly key: string
  readonly value: string
  /** Lapses this long after the write; absent or null: kept until removed. */
  readonly ttlMs?: number | null
}

export interface RecordPutOptions {
  /**
   * Writes only while this lock is still held by its owner at its fence and has not lapsed, all
   * in the same atomic step: a leader that lost its lock (paused, partitioned) cannot write.
   */
  readonly ifLock?: Lock
}

export interface CoordinationCapabilities {
  /** Broadcast reaches subscribers pushed by the engine ('push'), or found by polling ('poll'). */
  readonly broadcast: 'push' | 'poll'
}

export interface Coordination {
  readonly scheme: string
  readonly capabilities: CoordinationCapabilities
  /** Idempotent. */
  connect(): Promise<void>
  /** Idempotent; ends subscriptions. */
  close(): Promise<void>

  /**
   * Takes the lock `name` for `ttlMs` when it is free or has lapsed; a call by its current owner
   * renews it (same fence). Null when another owner holds it.
   */
  acquire(name: string, owner: string, ttlMs: number): Promise<Lock | null>
  /** Extends a held lock by `ttlMs` from now. False when it lapsed or changed hands. */
  renew(lock: Lock, ttlMs: number): Promise<boolean>
  /** Lets the lock go. False when it was no longer held by this owner and fence. */
  release(lock: Lock): Promise<boolean>

  /**
   * Adds members to the join `key` (a set) and says how many distinct members it has. The key
   * lapses `ttlMs` after its last change.
   */
  join(key: string, members: readonly string[], ttlMs: number): Promise<JoinResult>
  /** The members of a join, in no particular order; empty when unknown or lapsed. */
  members(key: string): Promise<string[]>
  /** Forgets joins. */
  forgetJoins(keys: readonly string[]): Promise<void>

  /**
   * Takes `n` tokens from the bucket `key`. Returns 0 when they were taken, otherwise how many
   * ms until they would be there (and takes nothing). `n` of 0 or less takes nothing and returns
   * 0; a spec that is not positive, or more tokens than the burst, is refused (`checkTake`).
   */
  take(key: string, n: number, spec: BucketSpec): Promise<number>

  /**
   * Appends events to a stream, dropping the oldest beyond `maxLen` events. Returns their ids.
   * An entry is one event here; a result store that writes outcomes into the log
   * (`ResultStore.writesEventsTo`) may put several in one entry, and the bound still counts events
   * (such a store may trim below the bound when it passes it, so as to trim once in many writes).
   */
  append(stream: string, events: readonly string[], maxLen: number): Promise<string[]>
  /** Up to `limit` events after the id `after` (from the oldest kept when null), oldest first. */
  read(stream: string, after: string | null, limit: number): Promise<LoggedEvent[]>

  /**
   * Writes records into the namespace `space`, replacing what was there; all or none. False (and
   * nothing written) only when `ifLock` is given and no longer held.
   */
  put(space: string, records: readonly RecordWrite[], options?: RecordPutOptions): Promise<boolean>
  /**
   * Writes one record only when its key is absent (or lapsed). Null when written; otherwise the
   * value already there, unchanged.
   */
  putIfAbsent(space: string, record: RecordWrite): Promise<string | null>
  /** The values of these keys, null where absent or lapsed, in the order asked. */
  get(space: string, keys: readonly string[]): Promise<(string | null)[]>
  /** The live records of a namespace, ordered by key, at most `limit` (default 10,000). */
  list(space: string, limit?: number): Promise<StoredRecord[]>
  /**
   * Removes records, and says how many were there. With `ifValue`, removes only those whose value
   * is exactly that (a unique key still held by this job, not by a later one).
   */
  remove(space: string, keys: readonly string[], options?: { readonly ifValue?: string }): Promise<number>

  /** Sends a message to every current subscriber of a channel (none is kept for later ones). */
  broadcast(channel: string, message: string): Promise<void>
  /**
   * Calls `onMessage` for each message broadcast on the channel from now on. Resolves once
   * subscribed (a broadcast after that is received); the returned function unsubscribes.
   */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>
}

/**
 * Checks a `take` call the same way on every engine, and gives the bucket's burst. Throws for a
 * spec whose rate or period is not positive, and for more tokens than the bucket can ever hold
 * (no wait would ever make them available, and a caller retrying on a wait would spin for ever).
 */
export function checkTake(key: string, n: number, spec: BucketSpec): number {
  const burst = spec.burst ?? spec.rate
  if (!(spec.rate > 0 && spec.perMs > 0 && burst > 0))
    throw new RangeError(`token bucket "${key}": rate, perMs and burst must be positive`)
  if (n > burst)
    throw new RangeError(`token bucket "${key}": cannot take ${n} tokens at once, it holds at most ${burst}`)
  return burst
}

/** Records are listed 10,000 at most unless a caller asks for another limit. */
export const RECORD_LIST_LIMIT = 10_000

/**
 * Checks record writes the same way on every engine: a ttl, when given, is a positive finite
 * number of ms. Returns each write's expiry (epoch ms from `now`), null for none.
 */
export function recordExpiries(
  space: string,
  records: readonly RecordWrite[],
  now: number,
): (number | null)[] {
  return records.map((r) => {
    if (r.ttlMs === undefined || r.ttlMs === null) return null
    if (!(r.ttlMs > 0 && Number.isFinite(r.ttlMs)))
      throw new RangeError(
        `record "${r.key}" in "${space}": ttlMs must be a positive number of ms, got ${r.ttlMs}`,
      )
    return now + Math.ceil(r.ttlMs)
  })
}
