/**
 * Rates as users write them: `'100/s'`, `'20/m'`, `'1000/h'`, optionally with a burst
 * (`'100/s burst 20'`), or `{ rate, per, burst }`. A rate becomes a token bucket spec of the
 * coordination part: `rate` tokens per `perMs`, holding at most `burst`. The default burst is
 * 200 ms worth of the rate (at least 1): '50/s' lets 10 through at once after a quiet spell, so
 * over any window of T seconds at most 50 T + 10 start.
 */
import type { BucketSpec } from '../contracts/coordination.js'
import { toMs, type Duration } from './duration.js'
import { ConfigError } from './errors.js'

/** `'<n>/<s|m|h>'` or `'<n>/<s|m|h> burst <b>'`, or the same as an object. */
export type Rate = string | { readonly rate: number; readonly per: Duration; readonly burst?: number }

/**
 * The default burst holds this long's worth of tokens (at least one): a job that comes back a few
 * ms after its token was due still finds it, so '10/s' is not worn down by scheduling lag.
 */
const DEFAULT_BURST_MS = 200

const PER: Record<string, number> = {
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
}

/** Parses a rate; `what` names the option in the error. */
export function parseRate(value: Rate, what = 'rateLimit'): BucketSpec {
  let spec: BucketSpec
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|m|min|h|hour)\s*(?:burst\s+(\d+(?:\.\d+)?))?\s*$/i.exec(
      value,
    )
    if (!m)
      throw new ConfigError(
        `${what} "${value}" is not a rate; write a count per s, m or h, such as '100/s', '20/m' or '100/s burst 20'`,
      )
    spec = {
      rate: Number(m[1]),
      perMs: PER[m[2]!.toLowerCase()]!,
      ...(m[3] !== undefined ? { burst: Number(m[3]) } : {}),
    }
  } else if (value && typeof value === 'object') {
    spec = {
      rate: value.rate,
      perMs: toMs(value.per, `${what}.per`),
      ...(value.burst !== undefined ? { burst: value.burst } : {}),
    }
  } else throw new ConfigError(`${what} must be a string such as '100/s' or { rate, per, burst }`)
  if (!(spec.rate > 0 && Number.isFinite(spec.rate)))
    throw new ConfigError(`${what}: the count must be a positive number, got ${spec.rate}`)
  if (!(spec.perMs > 0)) throw new ConfigError(`${what}: the period must be positive`)
  if (spec.burst !== undefined && !(spec.burst >= 1 && Number.isFinite(spec.burst)))
    throw new ConfigError(`${what}: the burst must be at least 1, got ${spec.burst}`)
  if (spec.burst === undefined)
    return { ...spec, burst: Math.max(1, Math.ceil((spec.rate * DEFAULT_BURST_MS) / spec.perMs)) }
  return spec
}

/** The rate as the CLI prints it: `'50/s'`, with `burst` when it differs from the rate. */
export function formatRate(spec: BucketSpec): string {
  const unit = spec.perMs === 1000 ? 's' : spec.perMs === 60_000 ? 'm' : spec.perMs === 3_600_000 ? 'h' : null
  const base = unit ? `${spec.rate}/${unit}` : `${spec.rate} per ${spec.perMs}ms`
  return spec.burst !== undefined ? `${base} burst ${spec.burst}` : base
}
