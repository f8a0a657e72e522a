/**
 * The Redis key layout (see README.md). Every key of a queue shares the hash tag
 * `{<prefix>:<queue>}`, so each queue lives in one Cluster slot and its scripts stay atomic.
 */
import { BadUrlError, redactUrl } from '../../core/errors.js'

export const DEFAULT_PREFIX = 'celeriac'

/** A server address. */
export interface RedisNode {
  readonly host: string
  readonly port: number
}

/** What the URL points at: one server, a Cluster (seed nodes) or a primary found through Sentinel. */
export type RedisTopology =
  | { readonly kind: 'server'; readonly clientUrl: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[]; readonly auth: RedisAuth }
  | {
      readonly kind: 'sentinel'
      readonly sentinels: readonly RedisNode[]
      readonly name: string
      readonly db: number
      readonly auth: RedisAuth
    }

/** Credentials and TLS of the data nodes (the URL's user info, `rediss` for TLS). */
export interface RedisAuth {
  readonly username?: string
  readonly password?: string
  readonly tls: boolean
}

export interface RedisTarget {
  /** The URL as given; never print it (it may hold a password): use `safeUrl`. */
  readonly url: string
  /** The URL with its password replaced by `***`, for messages. */
  readonly safeUrl: string
  readonly topology: RedisTopology
  readonly prefix: string
}

export const SCHEMES = [
  'redis',
  'rediss',
  'redis+cluster',
  'rediss+cluster',
  'redis+sentinel',
  'rediss+sentinel',
] as const

/**
 * Reads `redis[s]://[user:password@]host[:port][/db][?prefix=name]`,
 * `redis[s]+cluster://[user:password@]host:port[,host:port…][/][?prefix=name]` (seed nodes) and
 * `redis[s]+sentinel://[user:password@]host:port[,host:port…]/<primary name>[/db][?prefix=name]`.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = /^(rediss?)(?:\+(cluster|sentinel))?:\/\/(?:([^@/?#]*)@)?([^/?#]*)([^#]*)$/i.exec(url)
  const safeUrl = !m?.[2]
    ? redactUrl(url)
    : m[3]?.includes(':')
      ? url.replace(`${m[3]}@`, `${m[3].slice(0, m[3].indexOf(':'))}:***@`)
      : url
  const bad = (reason: string) => new BadUrlError(safeUrl, SCHEMES, reason)
  if (!m) throw bad('not a redis://, redis+cluster:// or redis+sentinel:// URL')
  const [, base = '', mode, userinfo, hosts = '', rest = ''] = m
  let tail: URL
  try {
    tail = new URL(`http://h${rest}`)
  } catch (cause) {
    throw bad(`it is not a URL (${(cause as Error).message})`)
  }
  const prefix = tail.searchParams.get('prefix') ?? DEFAULT_PREFIX
  if (!prefix || /[{}]/.test(prefix)) throw bad('prefix must be non-empty and hold no braces')
  tail.searchParams.delete('prefix')
  if (!mode) {
    let u: URL
    try {
      u = new URL(url)
    } catch (cause) {
      throw bad(`it is not a URL (${(cause as Error).message})`)
    }
    u.searchParams.delete('prefix')
    return { url, safeUrl, prefix, topology: { kind: 'server', clientUrl: u.toString() } }
  }
  if ([...tail.searchParams.keys()].length)
    throw bad(`unknown parameter(s) ${[...tail.searchParams.keys()].join(', ')}; only prefix is read`)
  const auth = parseAuth(userinfo, base.toLowerCase() === 'rediss')
  const nodes = parseNodes(hosts, mode.toLowerCase() === 'cluster' ? 6379 : 26379, bad)
  const path = tail.pathname.split('/').filter(Boolean).map(decodeURIComponent)
  if (mode.toLowerCase() === 'cluster') {
    if (path.length > 1 || (path.length === 1 && path[0] !== '0'))
      throw bad('a Cluster has database 0 only; leave the path empty')
    return { url, safeUrl, prefix, topology: { kind: 'cluster', nodes, auth } }
  }
  const [name, db = '0'] = path
  if (!name || path.length > 2 || !/^\d+$/.test(db))
    throw bad('give the primary name as the path, and optionally the database: /mymaster/0')
  return {
    url,
    safeUrl,
    prefix,
    topology: { kind: 'sentinel', sentinels: nodes, name, db: Number(db), auth },
  }
}

function parseAuth(userinfo: string | undefined, tls: boolean): RedisAuth {
  if (!userinfo) return { tls }
  const i = userinfo.indexOf(':')
  const user = decodeURIComponent(i < 0 ? userinfo : userinfo.slice(0, i))
  const password = i < 0 ? undefined : decodeURIComponent(userinfo.slice(i + 1))
  return { tls, ...(user ? { username: user } : {}), ...(password ? { password } : {}) }
}

function parseNodes(hosts: string, defaultPort: number, bad: (reason: string) => Error): RedisNode[] {
  if (!hosts) throw bad('name at least one host:port')
  return hosts.split(',').map((h) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(h.trim())
    if (!m) throw bad(`"${h}" is not host[:port]`)
    return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : defaultPort }
  })
}

/** The keys of one queue, built once and handed to scripts in the order their headers list. */
export class QueueKeys {
  readonly ready: readonly string[]
  readonly delayed: string
  readonly wake: string
  readonly active: string
  readonly leases: string
  readonly paused: string
  readonly seq: string
  readonly dead: string
  readonly deadAt: string
  readonly settled: string
  /** Ids of the queue's live jobs (waiting, delayed, leased): idempotent publish and replay. */
  readonly ids: string
  /** Jobs handed back (released, lease expired), ahead of their list: by priority, then place. */
  readonly returned: string
  /** ready 0..9, delayed, wake, ids, seq */
  readonly publish: readonly string[]
  /** ready 0..9, delayed, wake, active, ids, returned */
  readonly purge: readonly string[]
  /** ready 0..9, delayed, wake, active, leases, paused, seq, dead, dead index, ids, returned (reserve and peek) */
  readonly reserve: readonly string[]
  /** active, leases, returned, wake */
  readonly release: readonly string[]
  /** ready 0..9, delayed, wake, active, leases, seq */
  readonly retry: readonly string[]
  readonly ack: readonly string[]
  readonly deadLetter: readonly string[]
  readonly deadStore: readonly string[]
  /** ready 0..9, wake, dead, dead index, ids */
  readonly replay: readonly string[]
  /** ready 0..9, delayed, active, dead index, settled, paused, returned */
  readonly stats: readonly string[]
  /** ready 0..9, returned, delayed, active, leases */
  readonly listJobs: readonly string[]

  constructor(
    prefix: string,
    readonly queue: string,
  ) {
    const tag = `{${prefix}:${queue}}`
    this.ready = Array.from({ length: 10 }, (_, p) => `${tag}:ready:${p}`)
    this.delayed = `${tag}:delayed`
    this.wake = `${tag}:wake`
    this.active = `${tag}:active`
    this.leases = `${tag}:leases`
    this.paused = `${tag}:paused`
    this.seq = `${tag}:seq`
    this.dead = `${tag}:dead`
    this.deadAt = `${tag}:dead:at`
    this.settled = `${tag}:settled`
    this.ids = `${tag}:ids`
    this.returned = `${tag}:returned`
    const base = [...this.ready, this.delayed, this.wake]
    this.publish = [...base, this.ids, this.seq]
    this.purge = [...base, this.active, this.ids, this.returned]
    const requeue = [...base, this.active, this.leases]
    this.release = [this.active, this.leases, this.returned, this.wake]
    this.retry = [...requeue, this.seq]
    this.reserve = [...requeue, this.paused, this.seq, this.dead, this.deadAt, this.ids, this.returned]
    this.ack = [this.active, this.leases, this.settled, this.ids]
    this.deadLetter = [this.active, this.leases, this.dead, this.deadAt, this.settled, this.ids]
    this.deadStore = [this.dead, this.deadAt]
    this.replay = [...this.ready, this.wake, this.dead, this.deadAt, this.ids]
    this.stats = [
      ...this.ready,
      this.delayed,
      this.active,
      this.deadAt,
      this.settled,
      this.paused,
      this.returned,
    ]
    this.listJobs = [...this.ready, this.returned, this.delayed, this.active, this.leases]
  }
}

/** Queue names this prefix has seen published to; read by stats() and the dead-letter calls. */
export function queuesKey(prefix: string): string {
  return `{${prefix}}:queues`
}

/** One string per result; the channel of the same name announces ready states. */
export function resultKey(prefix: string, id: string): string {
  return `${prefix}:result:${id}`
}

/**
 * A coordination key (`kind`: lock, join, bucket, events, bc for broadcast channels). The whole
 * key is its own hash tag: each lives in one Cluster slot, and keys of different names spread.
 */
export function coordinationKey(prefix: string, kind: string, name: string): string {
  return `{${prefix}:${kind}:${name}}`
}

/**
 * An event log: its stream, the counter of the events it holds and the list of each entry's
 * count (an entry may hold several; see scripts/includes/eventlog.lua), in one slot.
 */
export function eventLogKeys(prefix: string, name: string): [string, string, string] {
  const stream = coordinationKey(prefix, 'events', name)
  return [stream, `${stream}:n`, `${stream}:c`]
}
