/** Retry policies: how many times, after how long, for which errors. */
import { type Duration, toMs } from './duration.js'

// A constructor of errors, to list which errors a task retries.
export type ErrorClass = abstract new (...args: never[]) => Error

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly max: number
  /** How the delay grows: 'exponential' (default), 'linear', 'fixed', or a function of the retry number (1-based). */
  readonly backoff?: 'exponential' | 'linear' | 'fixed' | ((retry: number, error: unknown) => number)
  /** The first delay (default 1s). */
  readonly delay?: Duration
  /** The longest delay (default 10m). */
  readonly maxDelay?: Duration
  /** Spread delays by a random factor in [0.5, 1) so that failures do not retry in lockstep (default true). */
  readonly jitter?: boolean
  /** Which errors to retry: error classes or a predicate. Default: every error. */
  readonly on?: readonly ErrorClass[] | ((error: unknown) => boolean)
}

export interface NormalizedRetryPolicy {
  readonly max: number
  readonly backoff: NonNullable<RetryPolicy['backoff']>
  readonly delayMs: number
  readonly maxDelayMs: number
  readonly jitter: boolean
  readonly on: RetryPolicy['on']
}

export function normalizeRetry(policy: number | RetryPolicy | undefined): NormalizedRetryPolicy {
  const p: RetryPolicy = typeof policy === 'number' ? { max: policy } : (policy ?? { max: 0 })
  return {
    max: p.max,
    backoff: p.backoff ?? 'exponential',
    delayMs: toMs(p.delay ?? 1000, 'retries.delay'),
    maxDelayMs: toMs(p.maxDelay ?? 600_000, 'retries.maxDelay'),
    jitter: p.jitter ?? true,
    on: p.on,
  }
}

/** Whether this error is one the policy retries. */
export function shouldRetry(policy: NormalizedRetryPolicy, error: unknown): boolean {
  if (policy.on === undefined) return true
  if (typeof policy.on === 'function') return policy.on(error)
  return policy.on.some((cls) => error instanceof cls)
}

/** Delay in ms before retry number `retry` (1-based). `random` is injectable for tests. */
export function backoffDelay(
  policy: NormalizedRetryPolicy,
  retry: number,
  error?: unknown,
  random = Math.random,
): number {
  let ms: number
  if (typeof policy.backoff === 'function') ms = policy.backoff(retry, error)
  else if (policy.backoff === 'fixed') ms = policy.delayMs
  else if (policy.backoff === 'linear') ms = policy.delayMs * retry
  else ms = policy.delayMs * 2 ** (retry - 1)
  ms = Math.min(ms, policy.maxDelayMs)
  if (policy.jitter) ms = ms * (0.5 + random() / 2)
  return Math.max(0, Math.round(ms))
}
