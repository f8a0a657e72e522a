/**
 * Flow-control options of a task (rate limits, per-key limits, unique jobs, debouncing): their
 * types and their checks, done once when the task is defined. The worker and the producer apply
 * them through src/flow/.
 */
import type { BucketSpec } from '../contracts/coordination.js'
import { toMs, type Duration } from './duration.js'
import { ConfigError } from './errors.js'
import { parseRate, type Rate } from './rate.js'

/** A key: fixed, or computed from the call's arguments. */
export type FlowKey<A extends unknown[]> = string | { bivariant(...args: A): string }['bivariant']

export interface FlowTaskOptions<A extends unknown[] = unknown[]> {
  /**
   * At most this many starts of the task across every worker and process together:
   * `'100/s'`, `'20/m'`, `'1000/h'`, `'100/s burst 20'`. Jobs over it wait in the broker.
   */
  readonly rateLimit?: Rate
  /** The key of per-key limits, from the arguments: `(tenantId) => tenantId`. */
  readonly limitKey?: { bivariant(...args: A): string }['bivariant']
  /** Limits per key of `limitKey`: a rate and/or at most `concurrency` running at once cluster-wide. */
  readonly perKey?: { readonly rateLimit?: Rate; readonly concurrency?: number }
  /**
   * A send whose key matches a job still waiting or running is dropped and answers that job's
   * result. The key is held at most `ttl` (a job that never finishes cannot hold it for ever).
   */
  readonly unique?: { readonly key: FlowKey<A>; readonly ttl: Duration }
  /** Sends with the same key within `delay` of each other run once, with the last send's arguments. */
  readonly debounce?: { readonly key: FlowKey<A>; readonly delay: Duration }
}

/** The checked form the worker and producer use. */
export interface FlowSettings {
  readonly rate: BucketSpec | null
  readonly keyRate: BucketSpec | null
  readonly keyConcurrency: number | null
  readonly uniqueTtlMs: number | null
  readonly debounceMs: number | null
}

function checkKey(key: unknown, what: string): void {
  if (typeof key !== 'function' && (typeof key !== 'string' || key === ''))
    throw new ConfigError(`${what} must be a non-empty string or a function of the arguments`)
}

/** Checks the flow options of task `name`; null when it has none. */
export function flowSettings(name: string, o: FlowTaskOptions<never[]>): FlowSettings | null {
  if (!o.rateLimit && !o.limitKey && !o.perKey && !o.unique && !o.debounce) return null
  const what = (option: string) => `task "${name}": ${option}`
  const rate = o.rateLimit !== undefined ? parseRate(o.rateLimit, what('rateLimit')) : null
  if (o.limitKey !== undefined && typeof o.limitKey !== 'function')
    throw new ConfigError(
      `${what('limitKey')} must be a function of the arguments, such as (tenantId) => tenantId`,
    )
  if (o.perKey && !o.limitKey)
    throw new ConfigError(`${what('perKey')} needs limitKey, the function that gives each call's key`)
  const c = o.perKey?.concurrency
  if (c !== undefined && !(Number.isInteger(c) && c >= 1 && c <= 1000))
    throw new ConfigError(`${what('perKey.concurrency')} must be a whole number from 1 to 1000, got ${c}`)
  if (o.limitKey && !o.perKey?.rateLimit && !o.perKey?.concurrency)
    throw new ConfigError(`${what('limitKey')} needs perKey.rateLimit and/or perKey.concurrency`)
  if (o.unique && o.debounce)
    throw new ConfigError(`${what('unique')} and debounce cannot be combined on one task`)
  let uniqueTtlMs: number | null = null
  if (o.unique) {
    checkKey(o.unique.key, what('unique.key'))
    uniqueTtlMs = toMs(o.unique.ttl, what('unique.ttl'))
    if (!(uniqueTtlMs > 0)) throw new ConfigError(`${what('unique.ttl')} must be positive`)
  }
  let debounceMs: number | null = null
  if (o.debounce) {
    checkKey(o.debounce.key, what('debounce.key'))
    debounceMs = toMs(o.debounce.delay, what('debounce.delay'))
    if (!(debounceMs > 0)) throw new ConfigError(`${what('debounce.delay')} must be positive`)
  }
  return {
    rate,
    keyRate:
      o.perKey?.rateLimit !== undefined ? parseRate(o.perKey.rateLimit, what('perKey.rateLimit')) : null,
    keyConcurrency: c ?? null,
    uniqueTtlMs,
    debounceMs,
  }
}
