/**
 * Entries at run time: list, pause, resume, add, change and remove, straight on the coordination
 * records. A running beat reads the records every round, so a change takes effect within one
 * round, without a restart. These calls need no lock: they never touch `fired:` records, which
 * only the leader writes.
 */
import type { Coordination } from '../contracts/coordination.js'
import { ConfigError } from '../core/errors.js'
import {
  checkEntry,
  describeSchedule,
  type EntrySpec,
  type MissedPolicy,
  type ScheduleSpec,
} from './entries.js'
import {
  allKeys,
  baseline,
  canonical,
  entryValue,
  pauseValue,
  readState,
  recordKey,
  type EntryState,
  type StoredEntry,
} from './records.js'
import { tickerFor } from './ticks.js'

/** One entry as `list` shows it. */
export interface EntryInfo {
  readonly name: string
  readonly task: string
  readonly args: readonly unknown[]
  readonly kwargs?: Readonly<Record<string, unknown>>
  readonly schedule: ScheduleSpec
  /** The schedule in words: "cron 0 30 2 * * * Europe/Berlin", "every 30s". */
  readonly description: string
  readonly missed: MissedPolicy
  readonly source: 'code' | 'api'
  readonly paused: boolean
  /** The next tick beat will fire (null: paused, or a one-off already fired). */
  readonly next: Date | null
  /** The newest tick fired or passed over, null before the first. */
  readonly last: Date | null
  /** False for an entry declared in code that no beat has stored yet (it is once one runs). */
  readonly stored: boolean
}

export function entryInfo(s: EntryState & { entry: StoredEntry }, stored = true): EntryInfo {
  const { spec } = s.entry
  const paused = s.pause?.paused ?? false
  const from = baseline(s)
  const ticker = tickerFor(spec.schedule)
  // A tick due but not yet fired (beat is down, or about to fire it) shows as the next one.
  const next = paused ? null : ticker.next(from)
  const last = s.fired?.last ?? null
  return {
    name: spec.name,
    task: spec.task,
    args: spec.args,
    ...(spec.kwargs ? { kwargs: spec.kwargs } : {}),
    schedule: spec.schedule,
    description: describeSchedule(spec.schedule),
    missed: spec.missed ?? 'once',
    source: s.entry.source,
    paused,
    next: next === null ? null : new Date(next),
    last: last === null ? null : new Date(last),
    stored,
  }
}

export async function listEntries(coord: Coordination, space: string): Promise<EntryInfo[]> {
  const state = readState(await coord.list(space))
  const out: EntryInfo[] = []
  for (const s of state.entries.values())
    if (s.entry) out.push(entryInfo(s as EntryState & { entry: StoredEntry }))
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

async function stored(coord: Coordination, space: string, name: string): Promise<StoredEntry | null> {
  const state = readState(await coord.list(space))
  return state.entries.get(name)?.entry ?? null
}

/**
 * Adds an entry, or changes the one of that name. Refuses an entry declared in code: change it
 * in the code (the leader stores the new definition when it starts).
 */
export async function addEntry(
  coord: Coordination,
  space: string,
  spec: EntrySpec,
  now: number,
): Promise<'added' | 'changed' | 'unchanged'> {
  const entry = checkEntry(spec)
  const current = await stored(coord, space, entry.name)
  if (current?.source === 'code')
    throw new ConfigError(
      `beat entry "${entry.name}" is declared in code; change it there (or pause it), or add this one under another name`,
    )
  if (current && canonical(current.spec) === canonical(entry)) return 'unchanged'
  await coord.put(space, [
    { key: recordKey.entry(entry.name), value: entryValue({ spec: entry, source: 'api', since: now }) },
  ])
  return current ? 'changed' : 'added'
}

/** Removes an entry added at run time, and its state. False when there was none. */
export async function removeEntry(coord: Coordination, space: string, name: string): Promise<boolean> {
  const current = await stored(coord, space, name)
  if (!current) return false
  if (current.source === 'code')
    throw new ConfigError(
      `beat entry "${name}" is declared in code: delete it there (beat forgets it when it next starts), or pause it`,
    )
  return (await coord.remove(space, allKeys(name))) > 0
}

/**
 * Pauses or resumes an entry. Ticks that fall while it is paused are not fired, not even after
 * it is resumed.
 */
export async function setPaused(
  coord: Coordination,
  space: string,
  name: string,
  paused: boolean,
  now: number,
): Promise<void> {
  if (!(await stored(coord, space, name)))
    throw new ConfigError(`no beat entry named "${name}" (celeriac beat list shows them)`)
  await coord.put(space, [{ key: recordKey.paused(name), value: pauseValue({ paused, at: now }) }])
}
