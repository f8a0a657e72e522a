/**
 * The Redis result store. One string per result, `<prefix>:result:<id>` = "<1 if ready, else 0>"
 * + the highest fence written + ":" + record JSON, expiring at record.expiresAt (Redis forgets it;
 * cleanup() has nothing to do). Writes go through set-results-n.lua, which fences stale writes,
 * keeps ready states and publishes them on a channel named like the key; wait() subscribes to it
 * on one shared subscriber connection.
 */
import type { ForgetOptions, ResultRecord, ResultStore, WaitOptions } from '../../contracts/result-store.js'
import { BrokerError } from '../../core/errors.js'
import { isReady } from '../../core/states.js'
import { slotGroups } from './cluster.js'
import { brokerError, openClient, runScripts, type RedisClient } from './connection.js'
import { parseRedisUrl, resultKey, type RedisTarget } from './keys.js'
import { forgetResults, setResults } from './scripts.generated.js'

type Waiter = (record: ResultRecord) => void

export class RedisResultStore implements ResultStore {
  readonly scheme: string
  readonly prefix: string
  private readonly target: RedisTarget
  private client: RedisClient | null = null
  private subscriber: Promise<RedisClient> | null = null
  /** channel -> waiters parked on it */
  private readonly waiters = new Map<string, Set<Waiter>>()

  constructor(url: string) {
    this.target = parseRedisUrl(url)
    this.scheme = url.slice(0, url.indexOf(':')).toLowerCase()
    this.prefix = this.target.prefix
  }

  async connect(): Promise<void> {
    if (!this.client) this.client = await openClient(this.target, 'results')
  }

  async close(): Promise<void> {
    const client = this.client
    const sub = this.subscriber
    this.client = null
    this.subscriber = null
    if (sub) (await sub.catch(() => null))?.disconnect()
    if (client) await client.quit().catch(() => client.disconnect())
  }

  private redis(): RedisClient {
    if (!this.client)
      throw new BrokerError(
        `redis result store at ${this.target.safeUrl} is not connected: call connect() first`,
      )
    return this.client
  }

  async set(records: readonly ResultRecord[]): Promise<void> {
    if (!records.length) return
    for (const r of records) checkFence(r.fence ?? null, 'record fence')
    const client = this.redis()
    const keys = records.map((r) => resultKey(this.prefix, r.id))
    // One script call on one server; one per slot on a Cluster (each atomic on its own).
    const calls = slotGroups(client, keys).map((group) => {
      const args: string[] = []
      for (const i of group) {
        const r = records[i]!
        args.push(
          isReady(r.state) ? '1' : '0',
          r.fence == null ? '' : String(r.fence),
          r.expiresAt === null ? '0' : String(Math.ceil(r.expiresAt)),
          JSON.stringify(r),
        )
      }
      return { script: setResults, keys: group.map((i) => keys[i]!), args }
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
    let wake: Waiter = () => {}
    const woken = new Promise<ResultRecord>((resolve) => (wake = resolve))
    const stop: { timer?: { cancel(): void }; abort?: () => void } = {}
    const ended = new Promise<null>((resolve) => {
      // Absent or Infinity waits until the record is ready or the signal aborts.
      if (options.timeoutMs !== undefined && options.timeoutMs !== Infinity)
        stop.timer = longTimeout(() => resolve(null), Math.max(0, options.timeoutMs))
      stop.abort = () => resolve(null)
      options.signal?.addEventListener('abort', stop.abort, { once: true })
    })
    try {
      await this.park(channel, wake)
      // Read after subscribing: a result stored before the SUBSCRIBE took effect is seen here.
      const [now] = await this.get([id])
      if (now && isReady(now.state)) return now
      const got = options.signal?.aborted ? null : await Promise.race([woken, ended])
      return got ?? (await this.get([id]))[0]!
    } finally {
      if (stop.timer) stop.timer.cancel()
      if (stop.abort) options.signal?.removeEventListener('abort', stop.abort)
      this.unpark(channel, wake)
    }
  }

  private async park(channel: string, waiter: Waiter): Promise<void> {
    const sub = await this.subscriberClient()
    let set = this.waiters.get(channel)
    if (!set) {
      this.waiters.set(channel, (set = new Set()))
      set.add(waiter)
      try {
        await sub.subscribe(channel)
      } catch (e) {
        throw brokerError(this.target, 'subscribing to a result', e)
      }
    } else {
      set.add(waiter)
    }
  }

  private unpark(channel: string, waiter: Waiter): void {
    const set = this.waiters.get(channel)
    if (!set) return
    set.delete(waiter)
    if (set.size) return
    this.waiters.delete(channel)
    this.subscriber?.then((sub) => sub.unsubscribe(channel)).catch(() => {})
  }

  private subscriberClient(): Promise<RedisClient> {
    this.subscriber ??= openClient(this.target, 'results-sub').then((sub) => {
      sub.on('message', (channel: string, message: string) => {
        const record = decode(message)
        if (record) for (const w of this.waiters.get(channel) ?? []) w(record)
      })
      // After a reconnect (ioredis subscribes again) re-read what may have finished meanwhile.
      sub.on('ready', () => {
        const channels = [...this.waiters.keys()]
        const prefix = `${this.prefix}:result:`
        this.get(channels.map((c) => c.slice(prefix.length)))
          .then((records) =>
            records.forEach(
              (r, i) => r && isReady(r.state) && this.waiters.get(channels[i]!)?.forEach((w) => w(r)),
            ),
          )
          .catch(() => {})
      })
      return sub
    })
    this.subscriber.catch(() => (this.subscriber = null))
    return this.subscriber
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

/** A stored value (includes/result.lua) as a record carrying the highest fence written. */
function decode(value: string | null): ResultRecord | null {
  if (value === null || value.length < 2) return null
  // Written before fences were kept: "<flag><JSON>".
  if (value[1] === '{') return { ...(JSON.parse(value.slice(1)) as ResultRecord), fence: null }
  const colon = value.indexOf(':')
  const fence = colon > 1 ? Number(value.slice(1, colon)) : null
  return { ...(JSON.parse(value.slice(colon + 1)) as ResultRecord), fence }
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
