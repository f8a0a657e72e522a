/**
 * Tasks as the dashboard lists them, from durable storage: the event log (bounded, kept in the
 * broker's coordination part) for what happened recently, folded into rows by task-index.ts, and
 * the result store for a task's state and result. A restarted dashboard, or one that was down
 * while tasks ran, shows the same.
 */
import type { Coordination } from '../contracts/coordination.js'
import type { ResultRecord } from '../contracts/result-store.js'
import { decode } from '../core/codec.js'
import { EVENTS_STREAM, parseEvents, type CeleriacEvent } from '../core/events.js'
import { toJsonSafe } from '../core/render.js'

const PAGE = 1000

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
  /** Last activity at or after / at or before (epoch ms). */
  readonly from?: number
  readonly to?: number
  readonly offset?: number
  readonly limit: number
}

/** A task's row before any event was applied to it. */
export function newRow(e: CeleriacEvent): TaskRow & { fence: number } {
  return {
    id: e.id!,
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
}

/**
 * Applies one event of the task to its row. An event of a lower fence than one already seen (a
 * stale delivery) does not change the row.
 */
export function applyEvent(row: TaskRow & { fence: number }, e: CeleriacEvent): void {
  const fence = e.fence ?? row.fence
  if (fence < row.fence) return
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

/** Folds events into one row per task, newest activity first. */
export function foldTasks(events: readonly CeleriacEvent[]): TaskRow[] {
  const rows = new Map<string, TaskRow & { fence: number }>()
  for (const e of events) {
    if (!e.id || !e.type.startsWith('task-')) continue
    let row = rows.get(e.id)
    if (!row) rows.set(e.id, (row = newRow(e)))
    applyEvent(row, e)
  }
  return [...rows.values()].sort((a, b) => b.updatedAt - a.updatedAt).map(({ fence: _f, ...row }) => row)
}

/**
 * One page of the rows that pass the filters, and how many pass. Rows come newest first; only
 * the page is kept, whatever the number that pass.
 */
export function filterTasks(rows: Iterable<TaskRow>, f: TaskFilters): { rows: TaskRow[]; total: number } {
  const page: TaskRow[] = []
  const offset = f.offset ?? 0
  let total = 0
  for (const r of rows) {
    if (
      (f.state && r.state !== f.state) ||
      (f.task && r.task !== f.task) ||
      (f.worker && r.worker !== f.worker) ||
      (f.queue && r.queue !== f.queue) ||
      (f.id && !r.id.startsWith(f.id)) ||
      (f.from !== undefined && r.updatedAt < f.from) ||
      (f.to !== undefined && r.updatedAt > f.to)
    )
      continue
    if (total >= offset && page.length < f.limit) page.push(r)
    total++
  }
  return { rows: page, total }
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
