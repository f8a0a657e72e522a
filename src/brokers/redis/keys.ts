/**
 * The Redis key layout (see README.md). Every key of a queue shares the hash tag
 * `{<prefix>:<queue>}`, so each queue lives in one Cluster slot and its scripts stay atomic.
 */
import { BadUrlError } from '../../core/errors.js'

export const DEFAULT_PREFIX = 'celeriac'

export interface RedisTarget {
  /** The URL as given, for errors (always pass through redactUrl). */
  readonly url: string
  /** The URL handed to ioredis: ours without celeriac's own query parameters. */
  readonly clientUrl: string
  readonly prefix: string
}

/** Reads `redis[s]://[user:password@]host[:port][/db][?prefix=name]`. */
export function parseRedisUrl(url: string): RedisTarget {
  let u: URL
  try {
    u = new URL(url)
  } catch (cause) {
    throw new BadUrlError(url, ['redis', 'rediss'], `it is not a URL (${(cause as Error).message})`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new BadUrlError(url, ['redis', 'rediss'], 'not a redis:// URL')
  const prefix = u.searchParams.get('prefix') ?? DEFAULT_PREFIX
  if (!prefix || /[{}]/.test(prefix))
    throw new BadUrlError(url, ['redis', 'rediss'], 'prefix must be non-empty and hold no braces')
  u.searchParams.delete('prefix')
  return { url, clientUrl: u.toString(), prefix }
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
  /** ready 0..9, delayed, wake */
  readonly publish: readonly string[]
  /** ready 0..9, delayed, wake, active, leases, paused, seq (peek takes the first 15) */
  readonly reserve: readonly string[]
  readonly peek: readonly string[]
  /** ready 0..9, delayed, wake, active, leases */
  readonly requeue: readonly string[]
  readonly ack: readonly string[]
  readonly deadLetter: readonly string[]
  readonly deadStore: readonly string[]
  /** ready 0..9, wake, dead, dead index */
  readonly replay: readonly string[]
  /** ready 0..9, delayed, active, dead index, settled, paused */
  readonly stats: readonly string[]

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
    this.publish = [...this.ready, this.delayed, this.wake]
    this.requeue = [...this.publish, this.active, this.leases]
    this.peek = [...this.requeue, this.paused]
    this.reserve = [...this.peek, this.seq]
    this.ack = [this.active, this.leases, this.settled]
    this.deadLetter = [this.active, this.leases, this.dead, this.deadAt, this.settled]
    this.deadStore = [this.dead, this.deadAt]
    this.replay = [...this.ready, this.wake, this.dead, this.deadAt]
    this.stats = [...this.ready, this.delayed, this.active, this.deadAt, this.settled, this.paused]
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
