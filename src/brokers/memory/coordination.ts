/**
 * In-process coordination, the companion of the memory broker: fenced locks, joins, token
 * buckets, a bounded event log and broadcast, kept in maps. The clock is `Date.now()`: every
 * client lives in this one process. `new MemoryCoordination(other)` is another client of the
 * same state, as a second connection to a shared engine would be; closing it ends only its own
 * subscriptions.
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

interface Held {
  owner: string
  fence: number
  expiresAt: number
}

interface Join {
  members: Set<string>
  expiresAt: number
}

interface Bucket {
  tokens: number
  /** When `tokens` was computed. */
  at: number
  /** When the bucket is full again (and so no different from one never used). */
  fullAt: number
}

interface Subscriber {
  active: boolean
  readonly onMessage: (message: string) => void
}

/** Lapsed locks, joins and full buckets are swept at most this often, by the calls themselves. */
const SWEEP_MS = 1000

class State {
  /** One counter for every lock, so a fence never repeats even after a lock is forgotten. */
  fenceSeq = 0
  eventSeq = 0
  sweptAt = 0
  readonly locks = new Map<string, Held>()
  readonly joins = new Map<string, Join>()
  readonly buckets = new Map<string, Bucket>()
  readonly streams = new Map<string, { seq: number; data: string }[]>()
  readonly channels = new Map<string, Set<Subscriber>>()
  readonly spaces = new Map<string, Map<string, { value: string; expiresAt: number | null }>>()

  sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_MS) return
    this.sweptAt = now
    for (const [k, v] of this.locks) if (v.expiresAt <= now) this.locks.delete(k)
    for (const [k, v] of this.joins) if (v.expiresAt <= now) this.joins.delete(k)
    for (const [k, v] of this.buckets) if (v.fullAt <= now) this.buckets.delete(k)
    for (const [name, space] of this.spaces) {
      for (const [k, r] of space) if (r.expiresAt !== null && r.expiresAt <= now) space.delete(k)
      if (!space.size) this.spaces.delete(name)
    }
  }
}

export class MemoryCoordination implements Coordination {
  readonly scheme = 'memory'
  readonly capabilities: CoordinationCapabilities = { broadcast: 'push' }
  private readonly state: State
  /** This client's subscriptions, ended by close(). */
  private readonly mine = new Set<{ channel: string; sub: Subscriber }>()

  /** A new in-process engine, or another client of `shared`'s. */
  constructor(shared?: MemoryCoordination) {
    this.state = shared?.state ?? new State()
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {
    for (const s of [...this.mine]) this.unsubscribe(s)
  }

  private now(): number {
    const now = Date.now()
    this.state.sweep(now)
    return now
  }

  private held(name: string, now: number): Held | undefined {
    const h = this.state.locks.get(name)
    return h && h.expiresAt > now ? h : undefined
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<Lock | null> {
    const now = this.now()
    let h = this.held(name, now)
    if (h && h.owner !== owner) return null
    if (h) h.expiresAt = now + ttlMs
    else this.state.locks.set(name, (h = { owner, fence: ++this.state.fenceSeq, expiresAt: now + ttlMs }))
    return { name, owner, fence: h.fence, expiresAt: h.expiresAt }
  }

  /** The lock as held now, when `lock` still describes it. */
  private current(lock: Lock, now: number): Held | undefined {
    const h = this.held(lock.name, now)
    return h && h.owner === lock.owner && h.fence === lock.fence ? h : undefined
  }

  async renew(lock: Lock, ttlMs: number): Promise<boolean> {
    const now = this.now()
    const h = this.current(lock, now)
    if (h) h.expiresAt = now + ttlMs
    return h !== undefined
  }

  async release(lock: Lock): Promise<boolean> {
    const h = this.current(lock, this.now())
    if (h) this.state.locks.delete(lock.name)
    return h !== undefined
  }

  async join(key: string, members: readonly string[], ttlMs: number): Promise<JoinResult> {
    const now = this.now()
    let j = this.state.joins.get(key)
    if (!j || j.expiresAt <= now) this.state.joins.set(key, (j = { members: new Set(), expiresAt: 0 }))
    const before = j.members.size
    for (const m of members) j.members.add(m)
    j.expiresAt = now + ttlMs
    return { size: j.members.size, added: j.members.size - before }
  }

  async members(key: string): Promise<string[]> {
    const j = this.state.joins.get(key)
    return j && j.expiresAt > this.now() ? [...j.members] : []
  }

  async forgetJoins(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.state.joins.delete(k)
  }

  async take(key: string, n: number, spec: BucketSpec): Promise<number> {
    const burst = checkTake(key, n, spec)
    if (n <= 0) return 0
    const now = this.now()
    const perMsRate = spec.rate / spec.perMs
    const b = this.state.buckets.get(key)
    const tokens = b ? Math.min(burst, b.tokens + (now - b.at) * perMsRate) : burst
    if (tokens < n) return Math.max(1, Math.ceil((n - tokens) / perMsRate))
    const left = tokens - n
    this.state.buckets.set(key, { tokens: left, at: now, fullAt: now + (burst - left) / perMsRate })
    return 0
  }

  async append(stream: string, events: readonly string[], maxLen: number): Promise<string[]> {
    let log = this.state.streams.get(stream)
    if (!log) this.state.streams.set(stream, (log = []))
    const ids: string[] = []
    for (const data of events) {
      const seq = ++this.state.eventSeq
      log.push({ seq, data })
      ids.push(`${seq}`)
    }
    if (log.length > maxLen) log.splice(0, log.length - Math.max(0, maxLen))
    if (!log.length) this.state.streams.delete(stream)
    return ids
  }

  async read(stream: string, after: string | null, limit: number): Promise<LoggedEvent[]> {
    const log = this.state.streams.get(stream) ?? []
    const cursor = after === null ? -Infinity : Number(after)
    // Binary search for the first event after the cursor: sequences increase along the log.
    let lo = 0
    let hi = log.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (log[mid]!.seq <= cursor) lo = mid + 1
      else hi = mid
    }
    return log.slice(lo, lo + Math.max(0, limit)).map((e) => ({ id: `${e.seq}`, data: e.data }))
  }

  /** The live record `key` of `space`, if any. */
  private record(
    space: string,
    key: string,
    now: number,
  ): { value: string; expiresAt: number | null } | undefined {
    const r = this.state.spaces.get(space)?.get(key)
    return r && (r.expiresAt === null || r.expiresAt > now) ? r : undefined
  }

  async put(space: string, records: readonly RecordWrite[], options?: RecordPutOptions): Promise<boolean> {
    const now = this.now()
    const expiries = recordExpiries(space, records, now)
    if (options?.ifLock && !this.current(options.ifLock, now)) return false
    let s = this.state.spaces.get(space)
    if (!s && records.length) this.state.spaces.set(space, (s = new Map()))
    records.forEach((r, i) => s!.set(r.key, { value: r.value, expiresAt: expiries[i]! }))
    return true
  }

  async putIfAbsent(space: string, record: RecordWrite): Promise<string | null> {
    const now = this.now()
    const [expiresAt] = recordExpiries(space, [record], now)
    const there = this.record(space, record.key, now)
    if (there) return there.value
    let s = this.state.spaces.get(space)
    if (!s) this.state.spaces.set(space, (s = new Map()))
    s.set(record.key, { value: record.value, expiresAt: expiresAt! })
    return null
  }

  async get(space: string, keys: readonly string[]): Promise<(string | null)[]> {
    const now = this.now()
    return keys.map((k) => this.record(space, k, now)?.value ?? null)
  }

  async list(space: string, limit = RECORD_LIST_LIMIT): Promise<StoredRecord[]> {
    const now = this.now()
    const out: StoredRecord[] = []
    for (const [key, r] of this.state.spaces.get(space) ?? [])
      if (r.expiresAt === null || r.expiresAt > now) out.push({ key, value: r.value, expiresAt: r.expiresAt })
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return out.slice(0, Math.max(0, limit))
  }

  async remove(
    space: string,
    keys: readonly string[],
    options?: { readonly ifValue?: string },
  ): Promise<number> {
    const now = this.now()
    const s = this.state.spaces.get(space)
    let removed = 0
    for (const k of keys) {
      const r = this.record(space, k, now)
      if (!r || (options?.ifValue !== undefined && r.value !== options.ifValue)) continue
      s!.delete(k)
      removed++
    }
    return removed
  }

  async broadcast(channel: string, message: string): Promise<void> {
    for (const sub of this.state.channels.get(channel) ?? []) {
      // Delivered after this call, as an engine would; checked again then, so a subscriber
      // that left meanwhile hears nothing.
      queueMicrotask(() => sub.active && sub.onMessage(message))
    }
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const entry = { channel, sub: { active: true, onMessage } }
    let subs = this.state.channels.get(channel)
    if (!subs) this.state.channels.set(channel, (subs = new Set()))
    subs.add(entry.sub)
    this.mine.add(entry)
    return async () => this.unsubscribe(entry)
  }

  private unsubscribe(entry: { channel: string; sub: Subscriber }): void {
    entry.sub.active = false
    this.mine.delete(entry)
    const subs = this.state.channels.get(entry.channel)
    subs?.delete(entry.sub)
    if (subs && !subs.size) this.state.channels.delete(entry.channel)
  }
}
