/**
 * Tick arithmetic, free of I/O and of the clock: the ticks of a schedule after a time, and which
 * of the ticks due by now to fire under an entry's missed-tick policy. Beat and `celeriac beat
 * list` both compute from here, so what the list shows is what beat does.
 */
import type { Cron } from 'croner'
import { parseCron, type MissedPolicy, type ScheduleSpec } from './entries.js'

/** The ticks of one schedule, in epoch ms. */
export interface Ticker {
  /** The first tick strictly after `after`, or null when there is none. */
  next(after: number): number | null
  /** Up to `n` ticks at or before `at`, newest first. */
  latest(at: number, n: number): number[]
}

/** Parsed cron patterns, by zone and pattern: parsing costs more than a lookup. */
const crons = new Map<string, Cron>()

function cronOf(pattern: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? 'UTC'} ${pattern}`
  let c = crons.get(key)
  if (!c) {
    c = parseCron('?', pattern, timezone)
    if (crons.size > 1000) crons.clear()
    crons.set(key, c)
  }
  return c
}

export function tickerFor(s: ScheduleSpec): Ticker {
  switch (s.kind) {
    case 'cron': {
      const c = cronOf(s.pattern, s.timezone)
      return {
        next: (after) => c.nextRun(new Date(after))?.getTime() ?? null,
        // croner's runs fall on whole seconds and previousRuns looks strictly before its second.
        latest: (at, n) =>
          c
            .previousRuns(n, new Date(Math.floor(at / 1000) * 1000 + 1000))
            .map((d) => d.getTime())
            .filter((t) => t <= at),
      }
    }
    case 'every': {
      const { everyMs: every, anchor = 0 } = s
      return {
        next: (after) => anchor + (Math.floor((after - anchor) / every) + 1) * every,
        latest: (at, n) => {
          const last = anchor + Math.floor((at - anchor) / every) * every
          return Array.from({ length: n }, (_, i) => last - i * every)
        },
      }
    }
    case 'once':
      return {
        next: (after) => (s.at > after ? s.at : null),
        latest: (at, n) => (s.at <= at && n > 0 ? [s.at] : []),
      }
  }
}

/** Most ticks one entry fires in one round; the rest follow in the next rounds. */
export const MAX_FIRES_PER_ROUND = 1000

export interface Due {
  /** Ticks to fire, oldest first. */
  readonly fire: number[]
  /** The newest tick accounted for (fired or dropped); null when nothing was due. */
  readonly upTo: number | null
  /** Whether ticks were late beyond the grace period, so the missed policy applied. */
  readonly missed: boolean
}

/**
 * Which ticks after `after` and at or before `now` to fire.
 *
 * When the oldest of them is at most `graceMs` old, nothing was missed: each fires (a beat that
 * took over from a dead leader fires every tick the dead one left). Otherwise beat was away, and
 * the policy decides over all of them: 'skip' fires none, 'once' the latest, `{ all: n }` the
 * latest n.
 */
export function dueTicks(
  ticker: Ticker,
  after: number,
  now: number,
  graceMs: number,
  policy: MissedPolicy = 'once',
): Due {
  const first = ticker.next(after)
  if (first === null || first > now) return { fire: [], upTo: null, missed: false }
  if (now - first <= graceMs) {
    const fire: number[] = []
    for (let t: number | null = first; t !== null && t <= now && fire.length < MAX_FIRES_PER_ROUND;) {
      fire.push(t)
      t = ticker.next(t)
    }
    return { fire, upTo: fire[fire.length - 1]!, missed: false }
  }
  const keep = policy === 'skip' ? 1 : policy === 'once' ? 1 : policy.all
  const latest = ticker
    .latest(now, keep)
    .filter((t) => t > after)
    .reverse()
  const upTo = latest.length ? latest[latest.length - 1]! : first
  return { fire: policy === 'skip' ? [] : latest, upTo, missed: true }
}
