/**
 * Beat entries: which task runs when, with which arguments. Declared in code next to the tasks
 * with `cron`, `every` and `once` (arguments type-checked against the task), or added at run time
 * as a plain `EntrySpec` (the CLI's `celeriac beat add`). Either way an entry is checked here once,
 * before it is stored or scheduled.
 */
import { Cron } from 'croner'
import { encode } from '../core/codec.js'
import { toMs, type Duration } from '../core/duration.js'
import { ConfigError } from '../core/errors.js'
import type { Task } from '../core/task.js'

/**
 * What to do with ticks that were due while no beat was running (or while it could not reach
 * the engine for longer than the grace period):
 * - 'skip': drop them; the next fire is the next tick.
 * - 'once': fire once for all of them, as the latest missed tick (the default).
 * - `{ all: n }`: fire the latest `n` of them, oldest first, each as its own tick.
 */
export type MissedPolicy = 'skip' | 'once' | { readonly all: number }

export type ScheduleSpec =
  /** A cron pattern of 5, 6 (with seconds) or 7 (with years) fields, in a named time zone (default UTC). */
  | { readonly kind: 'cron'; readonly pattern: string; readonly timezone?: string }
  /** Every `everyMs`, at `anchor + k × everyMs` (anchor default 0: aligned to the epoch, so to whole minutes, hours, days in UTC). */
  | { readonly kind: 'every'; readonly everyMs: number; readonly anchor?: number }
  /** Once, at epoch ms `at` (or as soon as beat runs after it, per the missed policy). */
  | { readonly kind: 'once'; readonly at: number }

/** An entry as stored and scheduled: plain data, no functions. */
export interface EntrySpec {
  /** Unique among the entries of a beat; part of every fire's task id. */
  readonly name: string
  /** The registered task name. */
  readonly task: string
  readonly args: readonly unknown[]
  readonly kwargs?: Readonly<Record<string, unknown>>
  readonly schedule: ScheduleSpec
  /** Default 'once'. */
  readonly missed?: MissedPolicy
  /** Queue of each fire (default: the task's, else the app's default queue). */
  readonly queue?: string
  /** 0 to 9 (default: the task's). */
  readonly priority?: number
}

export interface EntryOptions {
  readonly missed?: MissedPolicy
  readonly queue?: string
  readonly priority?: number
  readonly kwargs?: Readonly<Record<string, unknown>>
}

export interface CronEntryOptions extends EntryOptions {
  /** IANA zone the pattern is read in, e.g. 'Europe/Berlin' (default 'UTC'). */
  readonly timezone?: string
}

export interface EveryEntryOptions extends EntryOptions {
  /** Ticks fall on `anchor + k × interval` (default: the epoch). */
  readonly anchor?: Date | number | string
}

/** A task handle whose argument types are `A`, whatever it returns. */
type AnyTask<A extends unknown[]> = Pick<Task<A, unknown>, 'name'> & { delay(...args: A): unknown }

/**
 * An entry on a cron pattern, seconds optional, in a time zone.
 *
 * On a day a daylight-saving change skips the time (02:30 when clocks jump from 02:00 to 03:00),
 * a fixed-time pattern fires once, at the first instant after the gap (03:00); when the time
 * occurs twice (clocks fall back), it fires once, at the first occurrence. Patterns with a
 * wildcard, step, range or list in seconds, minutes or hours run on real-time instants: they skip
 * times inside a gap and run on both passes through a repeated hour (croner's rules, as Vixie
 * cron).
 *
 * @example
 * cron('nightly-report', '0 30 2 * * *', report, ['daily'], { timezone: 'Europe/Berlin' })
 */
export function cron<A extends unknown[]>(
  name: string,
  pattern: string,
  task: AnyTask<A>,
  args: NoInfer<A>,
  options: CronEntryOptions = {},
): EntrySpec {
  const { timezone, ...rest } = options
  return checkEntry({
    name,
    task: task.name,
    args,
    schedule: { kind: 'cron', pattern, ...(timezone !== undefined ? { timezone } : {}) },
    ...rest,
  })
}

/**
 * An entry every fixed interval (1s or more).
 *
 * @example
 * every('heartbeat', '30s', ping, [])
 */
export function every<A extends unknown[]>(
  name: string,
  interval: Duration,
  task: AnyTask<A>,
  args: NoInfer<A>,
  options: EveryEntryOptions = {},
): EntrySpec {
  const { anchor, ...rest } = options
  return checkEntry({
    name,
    task: task.name,
    args,
    schedule: {
      kind: 'every',
      everyMs: toMs(interval, `beat entry "${name}": interval`),
      ...(anchor !== undefined ? { anchor: toEpoch(anchor, `beat entry "${name}": anchor`) } : {}),
    },
    ...rest,
  })
}

/**
 * An entry that fires once, at a time.
 *
 * @example
 * once('launch-mail', new Date('2030-01-01T09:00:00Z'), sendLaunchMail, ['all'])
 */
export function once<A extends unknown[]>(
  name: string,
  at: Date | number | string,
  task: AnyTask<A>,
  args: NoInfer<A>,
  options: EntryOptions = {},
): EntrySpec {
  return checkEntry({
    name,
    task: task.name,
    args,
    schedule: { kind: 'once', at: toEpoch(at, `beat entry "${name}": time`) },
    ...options,
  })
}

export function toEpoch(value: Date | number | string, what: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value)
  if (!Number.isFinite(ms)) throw new ConfigError(`${what} is not a valid time: ${String(value)}`)
  return ms
}

const NAME = /^[\w.:@/+-]{1,200}$/
export const MIN_INTERVAL_MS = 1000

/** Parses a pattern in a zone with croner, or throws a ConfigError naming the entry. */
export function parseCron(name: string, pattern: string, timezone?: string): Cron {
  try {
    const c = new Cron(pattern, { timezone: timezone ?? 'UTC', paused: true })
    c.nextRun(new Date(0)) // an unknown zone is only noticed when a time is computed
    return c
  } catch (err) {
    const why = (err as Error).message.split('. ')[0]
    throw new ConfigError(
      `beat entry "${name}": cron "${pattern}"${timezone ? ` in "${timezone}"` : ''} is not valid: ${why}`,
      { cause: err },
    )
  }
}

/**
 * Checks an entry and returns it in its stored form (defaults left out). Throws a ConfigError
 * naming the entry and what is wrong with it.
 */
export function checkEntry(spec: EntrySpec): EntrySpec {
  const s = spec as Partial<EntrySpec> | null
  if (!s || typeof s !== 'object') throw new ConfigError('a beat entry must be an object')
  const name = s.name
  if (typeof name !== 'string' || !NAME.test(name))
    throw new ConfigError(
      `beat entry name ${JSON.stringify(name)} is not valid: use 1 to 200 letters, digits and . _ - : @ / +`,
    )
  const what = (field: string) => `beat entry "${name}": ${field}`
  if (typeof s.task !== 'string' || !s.task) throw new ConfigError(`${what('task')} must be a task name`)
  if (!Array.isArray(s.args)) throw new ConfigError(`${what('args')} must be an array`)
  if (
    s.kwargs !== undefined &&
    (typeof s.kwargs !== 'object' || s.kwargs === null || Array.isArray(s.kwargs))
  )
    throw new ConfigError(`${what('kwargs')} must be an object`)
  try {
    encode([s.args, s.kwargs ?? {}])
  } catch (err) {
    throw new ConfigError(`${what('args')} cannot be stored: ${(err as Error).message}`, { cause: err })
  }
  if (s.queue !== undefined && (typeof s.queue !== 'string' || !s.queue))
    throw new ConfigError(`${what('queue')} must be a non-empty string`)
  if (s.priority !== undefined && !(Number.isInteger(s.priority) && s.priority >= 0 && s.priority <= 9))
    throw new ConfigError(`${what('priority')} must be an integer from 0 to 9, got ${String(s.priority)}`)
  checkMissed(name, s.missed)
  checkSchedule(name, s.schedule)
  return {
    name,
    task: s.task,
    args: s.args,
    schedule: s.schedule!,
    ...(s.kwargs !== undefined ? { kwargs: s.kwargs } : {}),
    ...(s.missed !== undefined ? { missed: s.missed } : {}),
    ...(s.queue !== undefined ? { queue: s.queue } : {}),
    ...(s.priority !== undefined ? { priority: s.priority } : {}),
  }
}

function checkMissed(name: string, m: unknown): void {
  if (m === undefined || m === 'skip' || m === 'once') return
  const all = (m as { all?: unknown } | null)?.all
  if (
    typeof m === 'object' &&
    m !== null &&
    Number.isInteger(all) &&
    (all as number) >= 1 &&
    (all as number) <= 1000
  )
    return
  throw new ConfigError(
    `beat entry "${name}": missed must be 'skip', 'once' or { all: n } with n from 1 to 1000, got ${JSON.stringify(m)}`,
  )
}

function checkSchedule(name: string, s: ScheduleSpec | undefined): void {
  const what = `beat entry "${name}": schedule`
  if (!s || typeof s !== 'object') throw new ConfigError(`${what} is missing`)
  switch (s.kind) {
    case 'cron':
      if (typeof s.pattern !== 'string') throw new ConfigError(`${what}: the cron pattern must be a string`)
      if (s.timezone !== undefined && typeof s.timezone !== 'string')
        throw new ConfigError(`${what}: the time zone must be a string such as "Europe/Berlin"`)
      parseCron(name, s.pattern, s.timezone)
      return
    case 'every':
      if (!(Number.isInteger(s.everyMs) && s.everyMs >= MIN_INTERVAL_MS))
        throw new ConfigError(
          `${what}: the interval must be a whole number of ms, 1s or more; got ${s.everyMs}`,
        )
      if (s.anchor !== undefined && !Number.isFinite(s.anchor))
        throw new ConfigError(`${what}: the anchor must be epoch ms`)
      return
    case 'once':
      if (!Number.isFinite(s.at)) throw new ConfigError(`${what}: the time must be epoch ms`)
      return
    default:
      throw new ConfigError(
        `${what}: kind must be 'cron', 'every' or 'once', got ${JSON.stringify((s as { kind?: unknown }).kind)}`,
      )
  }
}

/** One line for a schedule, as `celeriac beat list` shows it. */
export function describeSchedule(s: ScheduleSpec): string {
  switch (s.kind) {
    case 'cron':
      return `cron ${s.pattern} ${s.timezone ?? 'UTC'}`
    case 'every':
      return `every ${formatMs(s.everyMs)}${s.anchor ? ` from ${new Date(s.anchor).toISOString()}` : ''}`
    case 'once':
      return `once at ${new Date(s.at).toISOString()}`
  }
}

function formatMs(ms: number): string {
  for (const [unit, n] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms % n === 0) return `${ms / n}${unit}`
  return `${ms}ms`
}
