/**
 * The Redis result store. One string per result, `<prefix>:result:<id>` = "<1 if ready, else 0>"
 * + the highest fence written + ":" + record JSON (a long result follows it on a line of its own:
 * see recordText), expiring at record.expiresAt (Redis forgets it; cleanup() has nothing to do). Writes go through set-results-n.lua, which fences stale writes,
 * keeps ready states and publishes them on a channel named like the key; wait() subscribes to it
 * on one shared subscriber connection.
 */
import { setMaxListeners } from 'node:events'
import type { Coordination } from '../../contracts/coordination.js'
import type {
  ForgetOptions,
  RecordEvents,
  ResultRecord,
  ResultStore,
  WaitOptions,
} from '../../contracts/result-store.js'
import { BrokerError } from '../../core/errors.js'
import { isReady } from '../../core/states.js'
import { slotGroups } from './cluster.js'
import { brokerError, runScripts, type RedisClient } from './connection.js'
import { RedisCoordination } from './coordination.js'
import { eventLogKeys, resultKey, type RedisTarget } from './keys.js'
import { forgetResults, setResults } from './scripts.generated.js'
import { outcomeLine } from './outcomes.js'
import { connectionOf, type RedisConnection } from './shared.js'

function unlimited(c: AbortController): AbortController {
  setMaxListeners(0, c.signal)
  return c
}

export class RedisResultStore implements ResultStore {
  readonly scheme: string
  readonly prefix: string
  private readonly target: RedisTarget
  private readonly conn: RedisConnection
  private readonly ownsConnection: boolean
  private isOpen = false
  /** Aborted by close(): ends this store's waits even when the connection is shared. */
  // Every wait of this client listens on it: as many listeners as waits, not a leak.
  private closing = unlimited(new AbortController())

  /** `new RedisResultStore(url)` opens connections of its own; the backend passes a shared one. */
  constructor(url: string | RedisConnection) {
    const { conn, owned } = connectionOf(url, 'results')
    this.conn = conn
    this.ownsConnection = owned
    this.target = conn.target
    this.scheme = conn.scheme
    this.prefix = conn.prefix
  }

  async connect(): Promise<void> {
    await this.conn.connect()
    if (!this.isOpen) this.closing = unlimited(new AbortController())
    this.isOpen = true
  }

  async close(): Promise<void> {
    this.isOpen = false
    this.closing.abort()
    if (this.ownsConnection) await this.conn.close()
  }

  private redis(): RedisClient {
    if (!this.isOpen)
      throw new BrokerError(
        `redis result store at ${this.target.safeUrl} is not connected: call connect() first`,
      )
    return this.conn.redis('redis result store')
  }

  /**
   * On one server (not a Cluster, where the log and the records live in different slots), when
   * the coordination part shares this store's connection: its log then lives beside the records.
   */
  writesEventsTo(coordination: Coordination): boolean {
    return (
      this.target.topology.kind !== 'cluster' &&
      coordination instanceof RedisCoordination &&
      coordination.sharesConnection(this.conn)
    )
  }

  async set(records: readonly ResultRecord[], events?: RecordEvents): Promise<void> {
    if (!records.length) return
    for (const r of records) checkFence(r.fence ?? null, 'record fence')
    const client = this.redis()
    const keys = records.map((r) => resultKey(this.prefix, r.id))
    if (events) {
      if (events.hints.length !== records.length)
        throw new RangeError(`set: ${events.hints.length} event hints for ${records.length} records`)
      if (!Number.isInteger(events.maxLen) || events.maxLen < 0)
        throw new RangeError(`set: events maxLen must be an integer >= 0`)
    }
    const groups = slotGroups(client, keys)
    // Events ride only where the whole batch is one script call beside the log (writesEventsTo).
    const withEvents = events && groups.length === 1 && events.hints.some((h) => h !== null) ? events : null
    // One script call on one server; one per slot on a Cluster (each atomic on its own).
    const calls = groups.map((group) => {
      const args: string[] = []
      if (!withEvents) {
        for (const i of group) pushRecord(args, records[i]!)
        return { script: setResults, keys: group.map((i) => keys[i]!), args }
      }
      // With events the batch is one group, in order: the arrays serve as they are, and one pass
      // over the records makes both their arguments and their events'.
      const events = eventArgs(withEvents.hints, records, args)
      keys.push(...eventLogKeys(this.prefix, withEvents.stream))
      args.push(String(withEvents.maxLen), ...events)
      return { script: setResults, keys, args }
    })
    try {
      await runScripts(client, calls)
    } catch (e) {
      throw brokerError(this.target, `storing ${records.length} result(s)`, e)
    }
  }

  async get(ids: readonly string[]): Promise<(ResultRecord | null)[]> {
    if (!ids.length) return []
    const client = this.redis()
    const keys = ids.map((id) => resultKey(this.prefix, id))
    const groups = slotGroups(client, keys)
    let values = new Array<string | null>(ids.length)
    try {
      if (groups.length === 1) values = await client.mget(keys)
      else {
        const replies = await Promise.all(groups.map((g) => client.mget(g.map((i) => keys[i]!))))
        groups.forEach((g, gi) => g.forEach((i, j) => (values[i] = replies[gi]![j] ?? null)))
      }
    } catch (e) {
      throw brokerError(this.target, 'reading results', e)
    }
    return values.map(decode)
  }

  async wait(id: string, options: WaitOptions): Promise<ResultRecord | null> {
    const channel = resultKey(this.prefix, id)
    let wake: (record: ResultRecord) => void = () => {}
    const woken = new Promise<ResultRecord>((resolve) => (wake = resolve))
    const onReady = (r: ResultRecord | null | undefined) => r && isReady(r.state) && wake(r)
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal
    const stop: { timer?: { cancel(): void }; abort?: () => void } = {}
    const ended = new Promise<null>((resolve) => {
      // Absent or Infinity waits until the record is ready or the signal aborts.
      if (options.timeoutMs !== undefined && options.timeoutMs !== Infinity)
        stop.timer = longTimeout(() => resolve(null), Math.max(0, options.timeoutMs))
      stop.abort = () => resolve(null)
      signal.addEventListener('abort', stop.abort, { once: true })
    })
    const subs = this.conn.subscriptions('redis result store')
    // After the subscriber reconnects, a result stored meanwhile was announced to no one: read it.
    const offResubscribed = subs.onResubscribed(
      () =>
        void this.get([id]).then(
          ([r]) => onReady(r),
          () => {},
        ),
    )
    let leave = () => {}
    try {
      try {
        leave = await subs.listen(channel, (message) => onReady(decode(message)))
      } catch (e) {
        throw brokerError(this.target, 'subscribing to a result', e)
      }
      // Read after subscribing: a result stored before the SUBSCRIBE took effect is seen here.
      const [now] = await this.get([id])
      if (now && isReady(now.state)) return now
      const got = signal.aborted ? null : await Promise.race([woken, ended])
      if (got) return got
      return this.isOpen ? (await this.get([id]))[0]! : (now ?? null)
    } finally {
      stop.timer?.cancel()
      if (stop.abort) signal.removeEventListener('abort', stop.abort)
      offResubscribed()
      leave()
    }
  }

  async forget(ids: readonly string[], options: ForgetOptions = {}): Promise<number> {
    if (!ids.length) return 0
    const limits = options.upToFence
    if (limits && limits.length !== ids.length)
      throw new RangeError(`forget: upToFence has ${limits.length} entries for ${ids.length} ids`)
    limits?.forEach((f) => checkFence(f, 'upToFence'))
    const client = this.redis()
    const keys = ids.map((id) => resultKey(this.prefix, id))
    try {
      const counts = await Promise.all(
        slotGroups(client, keys).map((g) =>
          limits
            ? runScripts(client, [
                {
                  script: forgetResults,
                  keys: g.map((i) => keys[i]!),
                  args: g.map((i) => (limits[i] == null ? '' : String(limits[i]))),
                },
              ]).then(([n]) => Number(n))
            : client.del(g.map((i) => keys[i]!)),
        ),
      )
      return counts.reduce((a, b) => a + b, 0)
    } catch (e) {
      throw brokerError(this.target, 'forgetting results', e)
    }
  }

  /** Redis expires records itself (PXAT); nothing is left to clean. */
  async cleanup(): Promise<number> {
    return 0
  }
}

/**
 * Results at least this long are written after the record (see recordText): below it, escaping
 * costs next to nothing and the record stays plain JSON for any reader.
 */
export const RAW_RESULT_CHARS = 256

/** Outcomes one log entry holds at most (readers page the log by entries). */
const EVENTS_PER_ENTRY = 32

/** A record's four arguments of set-results-n.lua. */
function pushRecord(args: string[], r: ResultRecord): void {
  args.push(
    isReady(r.state) ? '1' : '0',
    r.fence == null ? '' : String(r.fence),
    r.expiresAt === null ? '0' : String(Math.ceil(r.expiresAt)),
    recordText(r),
  )
}

/**
 * set-results-n.lua's event arguments: a flag per record ('0' no event, '1' an event; none at
 * all when every record has one), then for every EVENTS_PER_ENTRY records with an event two
 * arguments: their hints joined by newlines (a hint the same as the one before it in its
 * argument is sent, and stored, empty: tasks received together often share one), and their
 * outcome lines joined by newlines (outcomeLine). The log keeps these two texts as they came:
 * what an event takes of its record is a line of about 37 characters for a UUID id, not the
 * record's JSON, which the server would copy into the log byte by byte. Also pushes each
 * record's own four arguments (pushRecord) to `args`, in order, as it goes.
 */
function eventArgs(
  hints: readonly (string | null)[],
  records: readonly ResultRecord[],
  args: string[],
): string[] {
  // Built from arrays joined once: a string grown a piece at a time leaves a piece of garbage
  // per record, and the worker makes one of these per result batch.
  const flags: string[] = []
  const out: string[] = ['']
  let chunk: string[] = []
  let lines: string[] = []
  let last = ''
  let before: ResultRecord | null = null
  let withEvent = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    pushRecord(args, r)
    const hint = hints[i]
    if (hint === null || hint === undefined) {
      flags.push('0')
      continue
    }
    // A hint the same as the last one was checked already.
    if (hint !== last && hint.includes('\n')) throw new RangeError('set: an event hint holds a newline')
    flags.push('1')
    withEvent++
    lines.push(outcomeLine(r, chunk.length ? before : null))
    chunk.push(chunk.length && hint === last ? '' : hint)
    last = hint
    before = r
    if (chunk.length === EVENTS_PER_ENTRY) {
      out.push(chunk.join('\n'), lines.join('\n'))
      chunk = []
      lines = []
    }
  }
  if (chunk.length) out.push(chunk.join('\n'), lines.join('\n'))
  // Every record with an event (the common case): no flags at all.
  out[0] = flags.length === withEvent ? '' : flags.join('')
  return out
}

const isLong = (r: ResultRecord): boolean => r.result !== null && r.result.length >= RAW_RESULT_CHARS

/**
 * The record as stored after "<flag><fence>:". A result of RAW_RESULT_CHARS or more goes after
 * the record JSON (written without `result`) and a newline, as it is: inside the JSON it would be
 * escaped on write (a `\` before every `"` of an encoded object) and parsed twice on read.
 * JSON.stringify never writes a raw newline, so the first one ends the record JSON.
 */
export function recordText(r: ResultRecord): string {
  const long = isLong(r)
  let out = '{'
  for (let i = 0; i < RECORD_FIELDS.length; i++) {
    if (long && i === RESULT_FIELD) continue
    const text = fieldJson(i, r[RECORD_FIELDS[i]!])
    if (text === undefined) continue // JSON.stringify leaves out an undefined field too
    out += out.length > 1 ? `,${FIELD_HEADS[i]}${text}` : `${FIELD_HEADS[i]}${text}`
  }
  out += '}'
  return long ? `${out}\n${r.result}` : out
}

/**
 * A record's fields, written in this order (what JSON.stringify of a record made by the worker
 * writes). The record is written field by field rather than by JSON.stringify of the object:
 * records of one batch mostly share their task, state, worker and times, and the text of the
 * last value of each field is kept, so each is turned into JSON once a batch, not once a record
 * (epoch milliseconds are above 2^31: V8 formats them as doubles, its slowest number path).
 */
const RECORD_FIELDS = [
  'id',
  'state',
  'task',
  'result',
  'error',
  'retries',
  'worker',
  'startedAt',
  'doneAt',
  'updatedAt',
  'expiresAt',
  'fence',
] as const satisfies readonly (keyof ResultRecord)[]
const RESULT_FIELD = RECORD_FIELDS.indexOf('result')
const FIELD_HEADS = RECORD_FIELDS.map((k) => `${JSON.stringify(k)}:`)
const lastValue: unknown[] = RECORD_FIELDS.map(() => undefined)
const lastText: (string | undefined)[] = RECORD_FIELDS.map(() => undefined)

/** JSON of a field's value (undefined for none), from the last one of that field when it is the same. */
function fieldJson(i: number, v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (v === lastValue[i] && lastText[i] !== undefined) return lastText[i]
  const text = JSON.stringify(v) as string | undefined
  // Only primitives are kept: an object could change between two records.
  if (typeof v !== 'object') {
    lastValue[i] = v
    lastText[i] = text
  }
  return text
}

/** A stored value (includes/result.lua) as a record carrying the highest fence written. */
function decode(value: string | null): ResultRecord | null {
  if (value === null || value.length < 2) return null
  // Written before fences were kept: "<flag><JSON>".
  if (value[1] === '{') return { ...parseRecord(value, 1), fence: null }
  const colon = value.indexOf(':')
  const fence = colon > 1 ? Number(value.slice(1, colon)) : null
  return { ...parseRecord(value, colon + 1), fence }
}

/** Reads what recordText wrote, from `from` on. */
function parseRecord(value: string, from: number): ResultRecord {
  const nl = value.indexOf('\n', from)
  if (nl < 0) return JSON.parse(from ? value.slice(from) : value) as ResultRecord
  return { ...(JSON.parse(value.slice(from, nl)) as ResultRecord), result: value.slice(nl + 1) }
}

function checkFence(fence: number | null, what: string): void {
  if (fence !== null && !(Number.isSafeInteger(fence) && fence >= 0))
    throw new RangeError(`${what} must be an integer >= 0 or null, not ${fence}`)
}

/** setTimeout for any delay: Node fires a delay over 2^31-1 ms after 1 ms, so long ones re-arm. */
function longTimeout(fn: () => void, ms: number): { cancel(): void } {
  const MAX = 2 ** 31 - 1
  const end = Date.now() + ms
  let timer: NodeJS.Timeout
  const arm = () => {
    const left = end - Date.now()
    timer = setTimeout(left > MAX ? arm : fn, Math.min(Math.max(0, left), MAX))
  }
  arm()
  return { cancel: () => clearTimeout(timer) }
}
