/**
 * The message envelope: what a producer sends and a worker receives, one JSON object per task.
 *
 * Field names follow Celery's message protocol v2 where the two overlap (`id`, `task`, `args`,
 * `kwargs`, `eta`, `expires`, `retries`, `timelimit`, `root_id`, `parent_id`, `group`), so that a
 * Celery wire mode is a codec and a key layout, not a rewrite. `v` is the envelope version.
 */
import { decode, encode } from './codec.js'
import { renderThrown } from './render.js'
import { MalformedMessageError, MessageTooLargeError } from './errors.js'
import { decodeFlow, type MessageFlow } from './flow.js'

export const ENVELOPE_VERSION = 1

/** A message; the workflow fields (see flow.ts) are absent from messages outside workflows. */
export interface Message extends MessageFlow {
  /** Envelope version, 1 today. */
  v: number
  /** Task id: the id of its result, unique per task call. */
  id: string
  /** Registered task name. */
  task: string
  args: unknown[]
  kwargs: Record<string, unknown>
  queue: string
  /** 0 (default) to 9; higher runs first. */
  priority: number
  /** ISO time before which the task must not start, or null. */
  eta: string | null
  /** ISO time after which the task is not run but marked REVOKED, or null. */
  expires: string | null
  /** How many times this task has been retried so far. */
  retries: number
  /** [soft, hard] time limits in seconds, as Celery writes them; null for the task's default. */
  timelimit: [number | null, number | null]
  root_id: string | null
  parent_id: string | null
  group: string | null
  /** Whether the worker should store the result. */
  ignore_result: boolean
  /** ISO time the message was first sent. */
  sent_at: string
  /** Free-form headers, carried untouched (trace context and the like). */
  headers: Record<string, string>
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024

function hasKeys(o: object): boolean {
  for (const _ in o) return true
  return false
}

/**
 * Encodes a message. Fields at their default are left out of the wire form (empty `args`,
 * `kwargs` and `headers`, priority 0, no retries, null times and ids, `root_id` equal to `id`):
 * a waiting job costs its broker a third of the bytes. `decodeMessage` puts the defaults back.
 */
export function encodeMessage(msg: Message, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): string {
  const wire: Record<string, unknown> = { v: msg.v, id: msg.id, task: msg.task }
  if (msg.args.length) wire.args = msg.args
  if (hasKeys(msg.kwargs)) wire.kwargs = msg.kwargs
  wire.queue = msg.queue
  if (msg.priority) wire.priority = msg.priority
  if (msg.eta !== null) wire.eta = msg.eta
  if (msg.expires !== null) wire.expires = msg.expires
  if (msg.retries) wire.retries = msg.retries
  if (msg.timelimit[0] !== null || msg.timelimit[1] !== null) wire.timelimit = msg.timelimit
  if (msg.root_id !== null && msg.root_id !== msg.id) wire.root_id = msg.root_id
  if (msg.parent_id !== null) wire.parent_id = msg.parent_id
  if (msg.group !== null) wire.group = msg.group
  if (msg.ignore_result) wire.ignore_result = true
  wire.sent_at = msg.sent_at
  if (hasKeys(msg.headers)) wire.headers = msg.headers
  if (msg.chain) wire.chain = msg.chain
  if (msg.rest) wire.rest = msg.rest
  if (msg.callbacks) wire.callbacks = msg.callbacks
  if (msg.errbacks) wire.errbacks = msg.errbacks
  if (msg.chord) wire.chord = msg.chord
  if (msg.once) wire.once = true
  const body = encode(wire)
  // A JS string never takes fewer bytes than its length; only measure when it could be over.
  if (body.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(body)
    if (bytes > maxBytes) throw new MessageTooLargeError(msg.task, bytes, maxBytes)
  }
  return body
}

function isStringOrNull(v: unknown): v is string | null {
  return v === null || typeof v === 'string'
}

/** A time limit in seconds as a message holds it: null, or a positive finite number. */
function isLimit(t: unknown): boolean {
  return t === null || (typeof t === 'number' && Number.isFinite(t) && t > 0)
}

/**
 * Decodes and checks a message body. Throws MalformedMessageError naming the first thing wrong;
 * the worker dead-letters such messages with that reason.
 */
export function decodeMessage(body: string): Message {
  let raw: unknown
  try {
    raw = decode(body)
  } catch (err) {
    throw new MalformedMessageError(`body is not valid JSON (${(err as Error).message})`, { cause: err })
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new MalformedMessageError('body is not a JSON object')
  const m = raw as Record<string, unknown>
  if (m.v !== ENVELOPE_VERSION)
    throw new MalformedMessageError(
      `unsupported envelope version ${renderThrown(m.v, 40)} (this worker reads ${ENVELOPE_VERSION})`,
    )
  if (typeof m.id !== 'string' || m.id === '')
    throw new MalformedMessageError('"id" must be a non-empty string')
  if (typeof m.task !== 'string' || m.task === '')
    throw new MalformedMessageError('"task" must be a non-empty string')
  const args = m.args ?? []
  const kwargs = m.kwargs ?? {}
  const eta = m.eta ?? null
  const expires = m.expires ?? null
  const retries = m.retries ?? 0
  if (!Array.isArray(args)) throw new MalformedMessageError('"args" must be an array')
  if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs))
    throw new MalformedMessageError('"kwargs" must be an object')
  if (!isStringOrNull(eta) || !isStringOrNull(expires))
    throw new MalformedMessageError('"eta" and "expires" must be ISO strings or null')
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)
    throw new MalformedMessageError('"retries" must be a non-negative integer')
  if (
    (eta !== null && Number.isNaN(Date.parse(eta))) ||
    (expires !== null && Number.isNaN(Date.parse(expires)))
  )
    throw new MalformedMessageError('"eta" and "expires" must be ISO times')
  const timelimit = m.timelimit ?? [null, null]
  if (
    !Array.isArray(timelimit) ||
    timelimit.length !== 2 ||
    // Indexed, not .every(): a hole (an undefined the codec revived) must fail too.
    !isLimit(timelimit[0]) ||
    !isLimit(timelimit[1])
  )
    throw new MalformedMessageError('"timelimit" must be [soft, hard] in seconds (positive numbers or null)')
  const priority = m.priority ?? 0
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 9)
    throw new MalformedMessageError('"priority" must be an integer from 0 to 9')
  const headers = m.headers ?? {}
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers))
    throw new MalformedMessageError('"headers" must be an object')
  const flow = decodeFlow(m)
  return {
    ...flow,
    v: ENVELOPE_VERSION,
    id: m.id,
    task: m.task,
    args,
    kwargs: kwargs as Record<string, unknown>,
    queue: typeof m.queue === 'string' ? m.queue : 'default',
    priority,
    eta,
    expires,
    retries,
    timelimit: timelimit as [number | null, number | null],
    root_id: typeof m.root_id === 'string' ? m.root_id : m.id,
    parent_id: isStringOrNull(m.parent_id) ? m.parent_id : null,
    group: isStringOrNull(m.group) ? m.group : null,
    ignore_result: m.ignore_result === true,
    sent_at: typeof m.sent_at === 'string' ? m.sent_at : new Date(0).toISOString(),
    headers: headers as Record<string, string>,
  }
}

/**
 * Reads the task name and id from a body that failed to decode, for the dead-letter record.
 * Never throws.
 */
export function peekMessage(body: string): { id?: string; task?: string } {
  try {
    const m = JSON.parse(body) as Record<string, unknown>
    return {
      id: typeof m.id === 'string' ? m.id : undefined,
      task: typeof m.task === 'string' ? m.task : undefined,
    }
  } catch {
    return {}
  }
}
