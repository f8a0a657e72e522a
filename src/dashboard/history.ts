/**
 * Tasks as the dashboard lists them, read from durable storage on every request: the event log
 * (bounded, kept in the broker's coordination part) for what happened recently, and the result
 * store for a task's state and result. Nothing is remembered by the dashboard process, so a
 * restarted dashboard, or one that was down while tasks ran, shows the same.
 */
import type { Coordination, LoggedEvent } from '../contracts/coordination.js'
import type { ResultRecord } from '../contracts/result-store.js'
import { decode } from '../core/codec.js'
import { EVENTS_STREAM, parseEvents, type CeleriacEvent } from '../core/events.js'
import { toJsonSafe } from '../core/render.js'

const PAGE = 1000

/** The whole event log, oldest first (it is bounded by the workers' eventsMaxLen). */
export async function readLog(c: Coordination): Promise<{ events: CeleriacEvent[]; cursor: string | null }> {
  const events: CeleriacEvent[] = []
  let cursor: string | null = null
  for (;;) {
    const page: LoggedEvent[] = await c.read(EVENTS_STREAM, cursor, PAGE)
    for (const e of page) events.push(...parseEvents(e.data))
    if (page.length) cursor = page[page.length - 1]!.id
    if (page.length < PAGE) return { events, cursor }
  }
}

/** Events after `cursor`, and the cursor to continue from. */
export async function readAfter(
  c: Coordination,
  cursor: string | null,
): Promise<{ events: CeleriacEvent[]; cursor: string | null }> {
  const page = await c.read(EVENTS_STREAM, cursor, PAGE)
  const events = page.flatMap((e) => parseEvents(e.data))
  return { events, cursor: page.length ? page[page.length - 1]!.id : cursor }
}

const STATE_OF: Record<string, string> = {
  'task-received': 'RECEIVED',
  'task-started': 'STARTED',
  'task-progress': 'STARTED',
  'task-succeeded': 'SUCCESS',
  'task-failed': 'FAILURE',
  'task-retried': 'RETRY',
  'task-revoked': 'REVOKED',
}

export interface TaskRow {
  id: string
  task: string | null
  state: string
  queue: string | null
  worker: string
  retries: number
  receivedAt: number | null
  startedAt: number | null
  updatedAt: number
  runtimeMs: number | null
  reason: string | null
}

export interface TaskFilters {
  readonly state?: string
  readonly task?: string
  readonly worker?: string
  readonly queue?: string
  /** A task id or the start of one. */
  readonly id?: string
  readonly limit: number
}

/**
 * Folds events into one row per task, newest activity first. Events of a lower fence than one
 * already seen (a stale delivery) do not change the row's state.
 */
export function foldTasks(events: readonly CeleriacEvent[]): TaskRow[] {
  const rows = new Map<string, TaskRow & { fence: number }>()
  for (const e of events) {
    if (!e.id || !e.type.startsWith('task-')) continue
    let row = rows.get(e.id)
    if (!row) {
      row = {
        id: e.id,
        task: null,
        state: 'RECEIVED',
        queue: null,
        worker: e.worker,
        retries: 0,
        receivedAt: null,
        startedAt: null,
        updatedAt: e.at,
        runtimeMs: null,
        reason: null,
        fence: -1,
      }
      rows.set(e.id, row)
    }
    const fence = e.fence ?? row.fence
    if (fence < row.fence) continue
    row.fence = fence
    row.task = e.task ?? row.task
    row.queue = e.queue ?? row.queue
    row.worker = e.worker
    row.updatedAt = e.at
    if (e.retries !== undefined) row.retries = e.retries
    if (e.type === 'task-received') row.receivedAt ??= e.at
    if (e.type === 'task-started') row.startedAt = e.at
    if (e.runtimeMs !== undefined) row.runtimeMs = e.runtimeMs
    if (e.reason !== undefined) row.reason = e.reason
    row.state = STATE_OF[e.type] ?? row.state
  }
  return [...rows.values()].sort((a, b) => b.updatedAt - a.updatedAt).map(({ fence: _f, ...row }) => row)
}

export function filterTasks(rows: readonly TaskRow[], f: TaskFilters): { rows: TaskRow[]; total: number } {
  const out = rows.filter(
    (r) =>
      (!f.state || r.state === f.state) &&
      (!f.task || r.task === f.task) &&
      (!f.worker || r.worker === f.worker) &&
      (!f.queue || r.queue === f.queue) &&
      (!f.id || r.id.startsWith(f.id)),
  )
  return { rows: out.slice(0, f.limit), total: out.length }
}

/** A stored value shown as JSON, or the raw text when it cannot be decoded. */
export function shown(encoded: string | null): unknown {
  if (encoded === null) return null
  try {
    return toJsonSafe(decode(encoded))
  } catch {
    return { undecodable: encoded.slice(0, 4096) }
  }
}

export interface TaskDetail {
  readonly id: string
  readonly state: string
  readonly task: string | null
  readonly worker: string | null
  readonly retries: number
  readonly startedAt: number | null
  readonly doneAt: number | null
  readonly result: unknown
  readonly error: unknown
  /** `[args, kwargs]` as JSON text from the task-started event, when the log still has it. */
  readonly args: string | null
  readonly progress: unknown
  readonly events: readonly CeleriacEvent[]
}

/** A task's detail: its stored record when there is one, and its events from the log. */
export function taskDetail(
  id: string,
  record: ResultRecord | null,
  events: readonly CeleriacEvent[],
): TaskDetail {
  const mine = events.filter((e) => e.id === id)
  const folded = foldTasks(mine)[0]
  const started = [...mine].reverse().find((e) => e.type === 'task-started' && typeof e.args === 'string')
  const progress = [...mine].reverse().find((e) => e.type === 'task-progress')
  const ready = record && ['SUCCESS', 'FAILURE', 'REVOKED'].includes(record.state)
  return {
    id,
    state: record?.state ?? folded?.state ?? 'PENDING',
    task: record?.task ?? folded?.task ?? null,
    worker: record?.worker ?? folded?.worker ?? null,
    retries: record?.retries ?? folded?.retries ?? 0,
    startedAt: record?.startedAt ?? folded?.startedAt ?? null,
    doneAt: record?.doneAt ?? null,
    result: record?.state === 'SUCCESS' ? shown(record.result) : null,
    error: record?.error ? shown(record.error) : folded?.reason ? { message: folded.reason } : null,
    args: started?.args ?? null,
    progress: ready
      ? null
      : record && !ready && record.result
        ? shown(record.result)
        : (progress?.progress ?? null),
    events: mine,
  }
}
