/**
 * Rate limits changed at run time: records in the space `rate-limits` of the coordination part,
 * keyed `task:<name>` or `queue:<name>`, whose value is a rate (`'50/s'`) or `'off'`. Workers
 * re-read the whole space about once a second (one round trip), so a change reaches every worker
 * within about a second and no worker restarts. A task's own `rateLimit` applies while no record
 * names it.
 */
import type { BucketSpec, Coordination } from '../contracts/coordination.js'
import { ConfigError } from '../core/errors.js'
import { parseRate, type Rate } from '../core/rate.js'

export const RATE_LIMITS_SPACE = 'rate-limits'

/** What a record says: a rate, or no limit at all ('off'). */
export type Override = BucketSpec | 'off'

export type LimitTarget = { readonly task: string } | { readonly queue: string }

function recordKey(target: LimitTarget): string {
  if ('task' in target && target.task) return `task:${target.task}`
  if ('queue' in target && target.queue) return `queue:${target.queue}`
  throw new ConfigError('a rate limit names a task or a queue')
}

/**
 * Sets (a rate, or 'off' for none) or clears (null: back to the task's own `rateLimit`) the rate
 * limit of a task or queue, for every worker, within about a second.
 *
 * @example
 * await setRateLimit(await app.coordination(), { task: 'email.send' }, '50/s')
 */
export async function setRateLimit(
  coordination: Coordination,
  target: LimitTarget,
  rate: Rate | 'off' | null,
): Promise<void> {
  const key = recordKey(target)
  if (rate === null) {
    await coordination.remove(RATE_LIMITS_SPACE, [key])
    return
  }
  if (rate !== 'off') parseRate(rate, `rate limit of ${key}`) // refuse bad input before storing it
  const value = rate === 'off' ? 'off' : typeof rate === 'string' ? rate.trim() : JSON.stringify(rate)
  await coordination.put(RATE_LIMITS_SPACE, [{ key, value }])
}

/** Reads every override; a record that does not parse is skipped and reported through `bad`. */
export async function readOverrides(
  coordination: Coordination,
  bad?: (key: string, value: string, err: Error) => void,
): Promise<Map<string, Override>> {
  const out = new Map<string, Override>()
  for (const r of await coordination.list(RATE_LIMITS_SPACE)) {
    if (r.value === 'off') {
      out.set(r.key, 'off')
      continue
    }
    try {
      const raw: Rate = r.value.startsWith('{') ? (JSON.parse(r.value) as Rate) : r.value
      out.set(r.key, parseRate(raw, `rate limit of ${r.key}`))
    } catch (err) {
      bad?.(r.key, r.value, err as Error)
    }
  }
  return out
}

/** The overrides as stored, for the CLI's listing. */
export async function listRateLimits(coordination: Coordination): Promise<{ key: string; rate: string }[]> {
  return (await coordination.list(RATE_LIMITS_SPACE)).map((r) => ({ key: r.key, rate: r.value }))
}
