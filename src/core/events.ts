/**
 * Events: what workers report about tasks and themselves, as data other processes read (the
 * coordination part's event log): `celeriac events`, the dashboard, metrics. Names follow
 * Celery's event types. An event is one JSON object; unknown fields are kept, malformed entries
 * are skipped by readers, never fatal.
 */

export type TaskEventType =
  | 'task-received'
  | 'task-started'
  | 'task-progress'
  | 'task-succeeded'
  | 'task-failed'
  | 'task-retried'
  | 'task-revoked'
export type WorkerEventType = 'worker-online' | 'worker-heartbeat' | 'worker-offline'

export interface CeleriacEvent {
  readonly type: TaskEventType | WorkerEventType
  /** Epoch ms. */
  readonly at: number
  /** The worker that reported it (celeriac@host:pid). */
  readonly worker: string
  readonly id?: string
  readonly task?: string
  readonly queue?: string
  /** The delivery's fence: a reader keeps the event of the highest fence per task. */
  readonly fence?: number
  readonly retries?: number
  /** Milliseconds the task ran (succeeded, failed, retried). */
  readonly runtimeMs?: number
  /** Why it failed, was retried or dead-lettered. */
  readonly reason?: string
  /** Worker events: tasks running now, and finished since start. */
  readonly running?: number
  readonly processed?: number
  /** task-progress: the value reported, as JSON (see toJsonSafe). */
  readonly progress?: unknown
  /** task-started: `[args, kwargs]` as JSON text, cut to ARGS_PREVIEW_CHARS (see argsPreview). */
  readonly args?: string
  /**
   * Folded events: when the task was received and started, carried by a later event of the same
   * delivery that a worker wrote in their place (src/worker/events.ts). `expandEvent` gives them
   * back as events.
   */
  readonly receivedAt?: number
  readonly startedAt?: number
}

/**
 * The events a stored one stands for, oldest first: a folded event (carrying `receivedAt` or
 * `startedAt`) gives back the task-received and task-started events it replaced.
 */
export function expandEvent(e: CeleriacEvent): CeleriacEvent[] {
  if (e.receivedAt === undefined && e.startedAt === undefined) return [e]
  const { receivedAt, startedAt, args, ...rest } = e
  const base = {
    worker: e.worker,
    id: e.id,
    task: e.task,
    queue: e.queue,
    fence: e.fence,
    retries: e.retries,
  }
  const out: CeleriacEvent[] = []
  if (receivedAt !== undefined) out.push({ ...base, type: 'task-received', at: receivedAt })
  if (e.type === 'task-started') out.push({ ...rest, ...(args !== undefined ? { args } : {}) })
  else {
    if (startedAt !== undefined)
      out.push({ ...base, type: 'task-started', at: startedAt, ...(args !== undefined ? { args } : {}) })
    out.push(rest)
  }
  return out
}

/**
 * Reads a stored entry: every event it stands for, oldest first (see expandEvent). An entry is
 * one event, or (written by a result store, see parseEvent) the outcomes of several tasks, one a
 * line; what is malformed in it is skipped.
 */
export function parseEvents(data: string): CeleriacEvent[] {
  if (data.charCodeAt(0) === 82 /* R */ && data.includes('\n')) {
    const out: CeleriacEvent[] = []
    for (const line of data.split('\n')) {
      const e = parseRecordEvent(line)
      if (e) for (const x of expandEvent(e)) out.push(x)
    }
    return out
  }
  const e = parseEvent(data)
  return e ? expandEvent(e) : []
}

let lastQueue = ''
let lastQueueJson = '""'
// The last hint made and what it was made of: tasks received in one batch, with the same
// arguments (none, often) and the same queue, share one hint, made once.
const lastHint = {
  shown: -1,
  receivedAt: 0,
  queue: '',
  args: '' as string | undefined,
  reason: '' as string | undefined,
  text: '',
}

/**
 * What an outcome event adds to its result record when it rides on the result write
 * (`ResultStore.writesEventsTo`): the record holds the id, task, state, worker, fence, start and
 * end; this line holds what the worker had already announced (`shown`: 0 nothing, 1
 * task-received, 2 task-started), when the delivery was received, its queue, the arguments
 * (argsPreview text) and the reason of a failure or retry. Tab-separated; JSON text, which holds
 * no raw tab or newline, for the strings.
 */
export function recordEventHint(
  shown: 0 | 1 | 2,
  receivedAt: number,
  queue: string,
  args: string | undefined,
  reason: string | undefined,
): string {
  const h = lastHint
  if (
    shown === h.shown &&
    receivedAt === h.receivedAt &&
    queue === h.queue &&
    args === h.args &&
    reason === h.reason
  )
    return h.text
  if (queue !== lastQueue) lastQueueJson = JSON.stringify((lastQueue = queue))
  h.shown = shown
  h.receivedAt = receivedAt
  h.queue = queue
  h.args = args
  h.reason = reason
  h.text = `${shown}\t${shown === 0 ? receivedAt : ''}\t${lastQueueJson}\t${
    shown < 2 && args !== undefined ? args : ''
  }\t${reason === undefined ? '' : JSON.stringify(reason)}`
  return h.text
}

const OUTCOME_OF_STATE: Record<string, TaskEventType> = {
  SUCCESS: 'task-succeeded',
  FAILURE: 'task-failed',
  RETRY: 'task-retried',
  REVOKED: 'task-revoked',
}

/**
 * Reads "R" + recordEventHint line + TAB + record JSON (written by a result store, see
 * set-results-n.lua) as the outcome event it stands for, folded as a worker would fold it.
 */
function parseRecordEvent(data: string): CeleriacEvent | null {
  const tabs: number[] = []
  for (let at = 0; tabs.length < 5;) {
    const t = data.indexOf('\t', at)
    if (t < 0) return null
    tabs.push(t)
    at = t + 1
  }
  const [t1, t2, t3, t4, t5] = tabs as [number, number, number, number, number]
  try {
    const shown = Number(data.slice(1, t1))
    const r = JSON.parse(data.slice(t5 + 1)) as Record<string, unknown>
    const type = OUTCOME_OF_STATE[String(r.state)]
    if (!type || typeof r.worker !== 'string' || typeof r.id !== 'string') return null
    const num = (v: unknown) => (typeof v === 'number' ? v : undefined)
    const doneAt = num(r.doneAt)
    const startedAt = num(r.startedAt)
    const at = doneAt ?? num(r.updatedAt)
    if (at === undefined) return null
    const receivedAt = data.slice(t1 + 1, t2)
    const args = data.slice(t3 + 1, t4)
    const reason = data.slice(t4 + 1, t5)
    const e: Record<string, unknown> = {
      type,
      at,
      worker: r.worker,
      id: r.id,
      task: typeof r.task === 'string' ? r.task : undefined,
      queue: JSON.parse(data.slice(t2 + 1, t3)) as string,
      fence: num(r.fence),
      retries: num(r.retries),
      runtimeMs: startedAt !== undefined ? at - startedAt : undefined,
      reason: reason ? (JSON.parse(reason) as string) : undefined,
      receivedAt: shown === 0 && receivedAt ? Number(receivedAt) : undefined,
      startedAt: shown < 2 ? startedAt : undefined,
      args: args || undefined,
    }
    for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k]
    return e as unknown as CeleriacEvent
  } catch {
    return null
  }
}

/** How much of a task's arguments a task-started event carries. */
export const ARGS_PREVIEW_CHARS = 1024

/**
 * A task's arguments as events carry them (as Celery's task-received carries `args` and
 * `kwargs`): JSON text of `[args, kwargs]`, cut to `max` characters with an ellipsis, so an event
 * stays small whatever the task was given. Values JSON cannot show become what toJsonSafe makes
 * of them, by way of the replacer below.
 */
export function argsPreview(args: unknown, kwargs: unknown, max = ARGS_PREVIEW_CHARS): string {
  // Tasks without arguments are common: their text is known without building it.
  if (Array.isArray(args) && args.length === 0) {
    if (kwargs === undefined || kwargs === null) return NO_ARGS
    if (isEmptyObject(kwargs)) return NO_ARGS_EMPTY_KWARGS
  }
  let text: string
  try {
    // Without a replacer first (several times faster); a BigInt makes it throw, then the replacer.
    text = JSON.stringify([args, kwargs])
  } catch {
    try {
      text = JSON.stringify([args, kwargs], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
    } catch {
      text = '[unserializable arguments]'
    }
  }
  return text.length > max ? `${text.slice(0, max)}…` : text
}

const NO_ARGS = '[[],null]'
const NO_ARGS_EMPTY_KWARGS = '[[],{}]'

function isEmptyObject(x: unknown): boolean {
  if (typeof x !== 'object' || Object.getPrototypeOf(x) !== Object.prototype) return false
  for (const _ in x) return false
  return true
}

/** Fields written by eventText, in order, with how each is written. */
const NUMBER_FIELDS = [
  'at',
  'fence',
  'retries',
  'runtimeMs',
  'running',
  'processed',
  'receivedAt',
  'startedAt',
] as const
const STRING_FIELDS = ['worker', 'id', 'task', 'queue', 'reason', 'args'] as const

/**
 * An event as stored: the JSON text `JSON.stringify` would give for the fields it carries (in
 * another order), made without walking the object generically, since workers write one per task.
 * Events with other fields (progress) go through JSON.stringify.
 */
export function eventText(e: CeleriacEvent): string {
  if (e.progress !== undefined) return JSON.stringify(e)
  let text = `{"type":${JSON.stringify(e.type)}`
  for (const k of STRING_FIELDS) {
    const v = e[k]
    if (v !== undefined) text += `,"${k}":${JSON.stringify(v)}`
  }
  for (const k of NUMBER_FIELDS) {
    const v = e[k]
    if (v !== undefined) text += `,"${k}":${Number.isFinite(v) ? v : 'null'}`
  }
  return text + '}'
}

/** The coordination stream events are appended to. */
export const EVENTS_STREAM = 'events'

const TYPES = new Set([
  'task-received',
  'task-started',
  'task-progress',
  'task-succeeded',
  'task-failed',
  'task-retried',
  'task-revoked',
  'worker-online',
  'worker-heartbeat',
  'worker-offline',
])

/**
 * Reads a stored event, as written (an outcome that rode on its result write comes back folded,
 * as a worker writes one: see parseEvents); null for anything that is not one. A result store
 * writes the outcomes of up to 32 tasks in one entry ("R" lines joined by newlines): this reads
 * the first; parseEvents reads them all.
 */
export function parseEvent(data: string): CeleriacEvent | null {
  if (data.charCodeAt(0) === 82 /* R */) {
    const nl = data.indexOf('\n')
    return parseRecordEvent(nl < 0 ? data : data.slice(0, nl))
  }
  let v: unknown
  try {
    v = JSON.parse(data)
  } catch {
    return null
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null
  const e = v as Record<string, unknown>
  if (typeof e.type !== 'string' || !TYPES.has(e.type)) return null
  if (typeof e.at !== 'number' || typeof e.worker !== 'string') return null
  return e as unknown as CeleriacEvent
}
