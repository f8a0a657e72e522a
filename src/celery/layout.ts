/**
 * kombu's Redis layout, as Celery 5.2 (kombu 5.2) keeps it, and the `celery+redis://` URL.
 *
 * - queue `q` is a list `q` (kombu priority 0) plus `q\x06\x16<n>` for priorities 3, 6 and 9;
 *   producers LPUSH, consumers take from the right end, lower kombu priority first;
 * - a taken message waits in the hash `unacked` (delivery tag → JSON `[payload, exchange,
 *   routing key]`) with its time in the sorted set `unacked_index` (seconds); once older than
 *   the visibility timeout, any consumer (kombu's or ours) puts it back on its queue;
 * - `_kombu.binding.<exchange>` holds `routing key \x06\x16 pattern \x06\x16 queue` for each
 *   queue bound to the exchange; Celery's default queue `q` is bound to exchange `q` by key `q`.
 *
 * Our own additions, beside kombu's keys and never read by kombu: the dead-letter hash.
 */
import { ConfigError } from '../core/errors.js'

export const SEP = '\x06\x16'
export const PRIORITY_STEPS = [0, 3, 6, 9] as const
export const UNACKED = 'unacked'
export const UNACKED_INDEX = 'unacked_index'
/** Dead-lettered messages (ours): job id → JSON `{reason, failedAt, queue, entry}`. */
export const DEAD = 'celeriac.celery.dead'
/** kombu's default visibility timeout (seconds). */
export const DEFAULT_VISIBILITY_TIMEOUT = 3600

/** The list holding a queue's messages of one kombu priority. */
export function listKey(queue: string, priority: number): string {
  const step = bucket(priority)
  return step ? `${queue}${SEP}${step}` : queue
}

/** kombu's bucket for a priority: the highest step not above it. */
export function bucket(priority: number): number {
  let step = 0
  for (const s of PRIORITY_STEPS) if (priority >= s) step = s
  return step
}

export function bindingKey(exchange: string): string {
  return `_kombu.binding.${exchange}`
}

export function bindingMember(routingKey: string, queue: string): string {
  return `${routingKey}${SEP}${SEP}${queue}`
}

export interface CeleryRedisUrl {
  /** The same server as a plain `redis://` URL, for the shared connection code. */
  readonly redisUrl: string
  /** Seconds a taken message may stay unacknowledged before it is delivered again. */
  readonly visibilityTimeout: number
}

/**
 * Reads `celery+redis://[user:password@]host[:port][/db][?visibility_timeout=seconds]` (and
 * `celery+rediss://` for TLS).
 */
export function parseCeleryRedisUrl(url: string): CeleryRedisUrl {
  const m = /^celery\+(rediss?):\/\//i.exec(url)
  if (!m) throw new ConfigError(`${url}: a Celery Redis URL starts with celery+redis:// or celery+rediss://`)
  const u = new URL(`${m[1]!.toLowerCase()}://${url.slice(m[0].length)}`)
  let visibilityTimeout = DEFAULT_VISIBILITY_TIMEOUT
  const vt = u.searchParams.get('visibility_timeout')
  if (vt !== null) {
    visibilityTimeout = Number(vt)
    if (!Number.isFinite(visibilityTimeout) || visibilityTimeout <= 0)
      throw new ConfigError(`${url}: visibility_timeout must be a positive number of seconds, got "${vt}"`)
    u.searchParams.delete('visibility_timeout')
  }
  if (u.searchParams.has('prefix'))
    throw new ConfigError(`${url}: kombu's keys have no prefix; use a database number (/db) to separate apps`)
  return { redisUrl: u.toString(), visibilityTimeout }
}
