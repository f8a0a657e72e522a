/**
 * How beat keeps its state in the coordination records of one space (default 'beat', the same
 * name as the leader lock, so that a write fenced by the lock is atomic on Redis Cluster too):
 *
 *   entry:<name>   the entry: { v, source: 'code' | 'api', since, spec } (args through the codec)
 *   fired:<name>   { last, pending }: the newest tick accounted for, and fires decided but not yet
 *                  confirmed published (a leader that died between the two leaves them here)
 *   paused:<name>  { paused, at }: paused, or resumed at `at` (ticks before it are not fired)
 *
 * A record that cannot be read is reported, never fatal: one bad entry must not stop the others.
 */
import type { StoredRecord } from '../contracts/coordination.js'
import { decode, encode } from '../core/codec.js'
import { checkEntry, type EntrySpec } from './entries.js'

export interface StoredEntry {
  readonly spec: EntrySpec
  /** Declared in code (synced by the leader at start) or added at run time. */
  readonly source: 'code' | 'api'
  /** Epoch ms when this definition was stored: ticks before it are not fired. */
  readonly since: number
}

export interface PendingFire {
  readonly id: string
  readonly tick: number
}

export interface Fired {
  readonly last: number | null
  readonly pending: readonly PendingFire[]
}

export interface PauseState {
  readonly paused: boolean
  readonly at: number
}

export interface EntryState {
  entry?: StoredEntry
  fired?: Fired
  pause?: PauseState
}

export interface BeatState {
  readonly entries: Map<string, EntryState>
  /** Records that could not be read: key and why. */
  readonly broken: { key: string; why: string }[]
}

export const recordKey = {
  entry: (name: string) => `entry:${name}`,
  fired: (name: string) => `fired:${name}`,
  paused: (name: string) => `paused:${name}`,
}

export const allKeys = (name: string): string[] => [
  recordKey.entry(name),
  recordKey.fired(name),
  recordKey.paused(name),
]

/** The task id of one fire: the same for every beat that fires the tick. */
export function fireId(name: string, tick: number): string {
  return `beat:${name}:${new Date(tick).toISOString()}`
}

export function entryValue(e: StoredEntry): string {
  return encode({ v: 1, source: e.source, since: e.since, spec: e.spec })
}

export function firedValue(f: Fired): string {
  return JSON.stringify({ last: f.last, pending: f.pending })
}

export function pauseValue(p: PauseState): string {
  return JSON.stringify(p)
}

function readEntry(value: string): StoredEntry {
  const v = decode<{ v?: unknown; source?: unknown; since?: unknown; spec?: EntrySpec }>(value)
  if (v?.v !== 1) throw new Error(`unknown entry record version ${JSON.stringify(v?.v)}`)
  if (v.source !== 'code' && v.source !== 'api') throw new Error('source must be "code" or "api"')
  if (typeof v.since !== 'number' || !Number.isFinite(v.since)) throw new Error('since must be epoch ms')
  return { source: v.source, since: v.since, spec: checkEntry(v.spec as EntrySpec) }
}

function readFired(value: string): Fired {
  const v = JSON.parse(value) as { last?: unknown; pending?: unknown }
  const last = v?.last
  if (last !== null && !(typeof last === 'number' && Number.isFinite(last)))
    throw new Error('last must be epoch ms or null')
  const pending = Array.isArray(v.pending) ? v.pending : []
  for (const p of pending as PendingFire[])
    if (typeof p?.id !== 'string' || typeof p.tick !== 'number')
      throw new Error('pending fires must be { id, tick }')
  return { last, pending: pending as PendingFire[] }
}

function readPause(value: string): PauseState {
  const v = JSON.parse(value) as { paused?: unknown; at?: unknown }
  if (typeof v?.paused !== 'boolean' || typeof v.at !== 'number') throw new Error('expected { paused, at }')
  return { paused: v.paused, at: v.at }
}

export function readState(records: readonly StoredRecord[]): BeatState {
  const entries = new Map<string, EntryState>()
  const broken: { key: string; why: string }[] = []
  const slot = (name: string) => {
    let s = entries.get(name)
    if (!s) entries.set(name, (s = {}))
    return s
  }
  for (const r of records) {
    const colon = r.key.indexOf(':')
    const kind = r.key.slice(0, colon)
    const name = r.key.slice(colon + 1)
    try {
      if (kind === 'entry') {
        const entry = readEntry(r.value)
        if (entry.spec.name !== name) throw new Error(`it names another entry, "${entry.spec.name}"`)
        slot(name).entry = entry
      } else if (kind === 'fired') slot(name).fired = readFired(r.value)
      else if (kind === 'paused') slot(name).pause = readPause(r.value)
    } catch (err) {
      broken.push({ key: r.key, why: (err as Error).message })
    }
  }
  return { entries, broken }
}

/** Ticks after this are the entry's to fire: after its last fire, its definition, its resume. */
export function baseline(s: EntryState & { entry: StoredEntry }): number {
  // A one-off entry fires even when its time was already past when it was stored.
  const since = s.entry.spec.schedule.kind === 'once' ? -Infinity : s.entry.since
  const resumed = s.pause && !s.pause.paused ? s.pause.at : -Infinity
  return Math.max(s.fired?.last ?? -Infinity, since, resumed)
}

/** A stable text of an entry's definition, to see whether code changed it. */
export function canonical(spec: EntrySpec): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v
  return JSON.stringify(sort(JSON.parse(encode(spec))))
}
