/** Durations: milliseconds as numbers, or strings such as '250ms', '30s', '5m', '2h', '1d'. */
import { ConfigError } from './errors.js'

export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}` | string

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses a duration to milliseconds; `what` names the option in the error. */
export function toMs(value: Duration, what = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new ConfigError(`${what} must be a non-negative number of milliseconds, got ${value}`)
    return value
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value)
  if (!m)
    throw new ConfigError(
      `${what} "${value}" is not a duration; write milliseconds or a number with ms, s, m, h or d`,
    )
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!
}
