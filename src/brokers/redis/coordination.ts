/**
 * Coordination on Redis (src/contracts/coordination.ts): fenced locks, joins, token buckets, a
 * bounded event log and broadcast. Each call that reads then writes is one Lua script on one key
 * (scripts/lock-*.lua, join-1.lua, take-1.lua, append-1.lua) using the server's TIME; each key
 * carries its own hash tag, so on Cluster it lives in one slot and the scripts stay atomic.
 * Broadcast is PUBLISH, received on the URL's one subscriber connection.
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
import { slotGroups } from './cluster.js'
import { brokerError, runScripts, type RedisClient, type ScriptCall } from './connection.js'
import { coordinationKey, eventLogKeys, type RedisTarget } from './keys.js'
import * as S from './scripts.generated.js'
import { outcomeRecords } from './outcomes.js'
import { connectionOf, type RedisConnection } from './shared.js'

export class RedisCoordination implements Coordination {
  readonly scheme: string
  readonly capabilities: CoordinationCapabilities = { broadcast: 'push' }
  readonly prefix: string
  private readonly target: RedisTarget
  private readonly conn: RedisConnection
  private readonly ownsConnection: boolean
  private isOpen = false
  /** Unsubscribe functions of live subscriptions, ended by close(). */
  private readonly subscribed = new Set<() => void>()

  /** `new RedisCoordination(url)` opens connections of its own; the backend passes a shared one. */
  constructor(url: string | RedisConnection) {
    const { conn, owned } = connectionOf(url, 'coordination')
    this.conn = conn
    this.ownsConnection = owned
    this.target = conn.target
    this.scheme = conn.scheme
    this.prefix = conn.prefix
  }

  async connect(): Promise<void> {
    await this.conn.connect()
    this.isOpen = true
  }

  async close(): Promise<void> {
    this.isOpen = false
    for (const leave of this.subscribed) leave()
    this.subscribed.clear()
    if (this.ownsConnection) await this.conn.close()
  }

  private redis(): RedisClient {
    if (!this.isOpen)
      throw new BrokerError(
        `redis coordination at ${this.target.safeUrl} is not connected: call connect() first`,
      )
    return this.conn.redis('redis coordination')
  }

  private key(kind: string, name: string): string {
    return coordinationKey(this.prefix, kind, name)
  }

  /** Whether this part runs on `conn` (a result store on it can write into its event log). */
  sharesConnection(conn: RedisConnection): boolean {
    return this.conn === conn
  }

  private async run(what: string, call: ScriptCall): Promise<unknown> {
    const client = this.redis()
    try {
      return (await runScripts(client, [call]))[0]
    } catch (e) {
      throw brokerError(this.target, what, e)
    }
  }

  private async command<T>(what: string, f: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = this.redis()
    try {
      return await f(client)
    } catch (e) {
      throw brokerError(this.target, what, e)
    }
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<Lock | null> {
    const ttl = positiveMs(ttlMs, 'ttlMs')
    const reply = (await this.run(`acquiring lock ${name}`, {
      script: S.lockAcquire,
      keys: [this.key('lock', name)],
      args: [owner, ttl],
    })) as [number, number] | null
    return reply ? { name, owner, fence: Number(reply[0]), expiresAt: Number(reply[1]) } : null
  }

  async renew(lock: Lock, ttlMs: number): Promise<boolean> {
    const ttl = positiveMs(ttlMs, 'ttlMs')
    const reply = await this.run(`renewing lock ${lock.name}`, {
      script: S.lockRenew,
      keys: [this.key('lock', lock.name)],
      args: [lock.owner, lock.fence, ttl],
    })
    return Number(reply) > 0
  }

  async release(lock: Lock): Promise<boolean> {
    const reply = await this.run(`releasing lock ${lock.name}`, {
      script: S.lockRelease,
      keys: [this.key('lock', lock.name)],
      args: [lock.owner, lock.fence],
    })
    return Number(reply) === 1
  }

  async join(key: string, members: readonly string[], ttlMs: number): Promise<JoinResult> {
    const ttl = positiveMs(ttlMs, 'ttlMs')
    const [size, added] = (await this.run(`joining ${key}`, {
      script: S.join,
      keys: [this.key('join', key)],
      args: [ttl, ...members],
    })) as [number, number]
    return { size: Number(size), added: Number(added) }
  }

  members(key: string): Promise<string[]> {
    return this.command(`reading join ${key}`, (c) => c.smembers(this.key('join', key)))
  }

  async forgetJoins(keys: readonly string[]): Promise<void> {
    if (!keys.length) return
    const names = keys.map((k) => this.key('join', k))
    await this.command('forgetting joins', (c) =>
      Promise.all(slotGroups(c, names).map((g) => c.del(g.map((i) => names[i]!)))),
    )
  }

  async take(key: string, n: number, spec: BucketSpec): Promise<number> {
    const burst = checkTake(key, n, spec)
    if (n <= 0) return 0
    const reply = await this.run(`taking from bucket ${key}`, {
      script: S.take,
      keys: [this.key('bucket', key)],
      args: [n, spec.rate, spec.perMs, burst],
    })
    return Number(reply)
  }

  async append(stream: string, events: readonly string[], maxLen: number): Promise<string[]> {
    if (!Number.isInteger(maxLen) || maxLen < 0)
      throw new RangeError(`append: maxLen must be an integer >= 0`)
    if (!events.length) return []
    return (await this.run(`appending to ${stream}`, {
      script: S.append,
      keys: eventLogKeys(this.prefix, stream),
      // One framed argument for the batch (see append-1.lua): ioredis measures and frames each
      // argument it sends, which cost more than the events' own text.
      args: [maxLen, events.map((e) => `${Buffer.byteLength(e)}:${e}`).join('')],
    })) as string[]
  }

  async read(stream: string, after: string | null, limit: number): Promise<LoggedEvent[]> {
    if (after !== null && !/^\d+-\d+$/.test(after))
      throw new RangeError(`read: "${after}" is not an event id`)
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`read: limit must be an integer >= 0`)
    if (limit === 0) return []
    const rows = await this.command(`reading ${stream}`, (c) =>
      c.xrange(this.key('events', stream), after === null ? '-' : `(${after}`, '+', 'COUNT', limit),
    )
    // An entry of outcomes written with their results (set-results-n.lua) reads as its lines.
    return rows.map(([id, fields]) => ({
      id,
      data: outcomeEntryText(fields) ?? fields[fields.indexOf('d') + 1] ?? '',
    }))
  }

  /**
   * A space's two keys. They carry the hash tag of the lock named after the space, so that a put
   * fenced by that lock is one script on one slot on Cluster too.
   */
  private recordKeys(space: string): [string, string] {
    const tag = this.key('lock', space)
    return [`${tag}:rec`, `${tag}:rex`]
  }

  async put(space: string, records: readonly RecordWrite[], options?: RecordPutOptions): Promise<boolean> {
    const ttls = recordExpiries(space, records, 0)
    const lock = options?.ifLock
    if (!records.length && !lock) return true
    const keys = this.recordKeys(space)
    const args: (string | number)[] = lock ? ['1', lock.owner, lock.fence] : ['0', '', '']
    records.forEach((r, i) => args.push(r.key, r.value, ttls[i] ?? ''))
    const reply = await this.run(`writing records of ${space}`, {
      script: S.recordPut,
      keys: [...keys, lock ? this.key('lock', lock.name) : keys[0]],
      args,
    })
    return Number(reply) === 1
  }

  async putIfAbsent(space: string, record: RecordWrite): Promise<string | null> {
    const [ttl] = recordExpiries(space, [record], 0)
    const reply = await this.run(`writing record ${record.key} of ${space}`, {
      script: S.recordPutIfAbsent,
      keys: this.recordKeys(space),
      args: [record.key, record.value, ttl ?? ''],
    })
    return typeof reply === 'string' ? reply : null
  }

  async get(space: string, keys: readonly string[]): Promise<(string | null)[]> {
    if (!keys.length) return []
    const reply = (await this.run(`reading records of ${space}`, {
      script: S.recordGet,
      keys: this.recordKeys(space),
      args: [...keys],
    })) as (string | null | false)[]
    return reply.map((v) => (typeof v === 'string' ? v : null))
  }

  async list(space: string, limit = RECORD_LIST_LIMIT): Promise<StoredRecord[]> {
    const [now, flat, expiries] = (await this.run(`listing records of ${space}`, {
      script: S.recordList,
      keys: this.recordKeys(space),
      args: [],
    })) as [number, string[], string[]]
    const lapses = new Map<string, number>()
    for (let i = 0; i < expiries.length; i += 2) lapses.set(expiries[i]!, Number(expiries[i + 1]))
    const out: StoredRecord[] = []
    for (let i = 0; i < flat.length; i += 2) {
      const key = flat[i]!
      const at = lapses.get(key)
      if (at === undefined || at > Number(now)) out.push({ key, value: flat[i + 1]!, expiresAt: at ?? null })
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return out.slice(0, Math.max(0, limit))
  }

  async remove(
    space: string,
    keys: readonly string[],
    options?: { readonly ifValue?: string },
  ): Promise<number> {
    if (!keys.length) return 0
    const ifValue = options?.ifValue
    const reply = await this.run(`removing records of ${space}`, {
      script: S.recordRemove,
      keys: this.recordKeys(space),
      args: [ifValue === undefined ? '0' : '1', ifValue ?? '', ...keys],
    })
    return Number(reply)
  }

  async broadcast(channel: string, message: string): Promise<void> {
    await this.command(`broadcasting on ${channel}`, (c) => c.publish(this.key('bc', channel), message))
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    if (!this.isOpen) this.redis() // throws: not connected
    let leave: () => void
    try {
      leave = await this.conn.subscriptions('redis coordination').listen(this.key('bc', channel), onMessage)
    } catch (e) {
      throw brokerError(this.target, `subscribing to ${channel}`, e)
    }
    this.subscribed.add(leave)
    return async () => {
      this.subscribed.delete(leave)
      leave()
    }
  }
}

function positiveMs(ms: number, what: string): number {
  if (!(ms > 0) || !Number.isFinite(ms))
    throw new RangeError(`${what} must be a finite number > 0, not ${ms}`)
  return Math.ceil(ms)
}

/**
 * A log entry as set-results-n.lua writes it (`n`, `h` hints, an empty one standing for the one
 * before it, then `c` the outcome lines: see outcomes.ts) given back as the lines
 * parseEvents reads: "R" + hint + TAB + record JSON, one per outcome. Entries written before the
 * outcome lines (an `r` record JSON per outcome) read the same way. Null for any other entry.
 */
export function outcomeEntryText(fields: readonly string[]): string | null {
  if (fields[0] !== 'n' || fields[2] !== 'h') return null
  const hints = (fields[3] ?? '').split('\n')
  let text = ''
  let hint = ''
  if (fields[4] === 'c') {
    const records = outcomeRecords(fields[5] ?? '')
    if (!records) return ''
    records.forEach((r, k) => {
      if (hints[k]) hint = hints[k]!
      if (r) text += `${text ? '\n' : ''}R${hint}\t${JSON.stringify(r)}`
    })
    return text
  }
  for (let i = 4, k = 0; i + 1 < fields.length; i += 2, k++) {
    if (fields[i] !== 'r') continue
    if (hints[k]) hint = hints[k]!
    text += `${k ? '\n' : ''}R${hint}\t${fields[i + 1]!}`
  }
  return text
}
