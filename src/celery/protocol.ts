/**
 * The codec between celeriac's message and Celery's message protocol v2 in kombu's Redis
 * envelope: `{body, content-encoding, content-type, headers, properties}` with the body
 * `[args, kwargs, embed]` as JSON, base64-encoded. Only JSON is read; nothing in a message is
 * evaluated (no pickle, no yaml, no compression).
 *
 * Arguments: a celeriac task takes positional arguments only. A Celery message with kwargs
 * reaches it with the kwargs object appended as the last argument; a celeriac producer's
 * `kwargs` send option travels as Celery kwargs.
 */
import { createHash, randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { ConfigError, MalformedMessageError } from '../core/errors.js'
import { isGroupStep, type MessageFlow, type SigWire } from '../core/flow.js'
import { ENVELOPE_VERSION, decodeMessage, encodeMessage, type Message } from '../core/message.js'
import { bindingMember } from './layout.js'

/** What the broker needs of an outgoing Celery message. */
export interface KombuOut {
  readonly payload: string
  readonly queue: string
  readonly priority: number
}

/** A Celery message read from a queue, turned into celeriac's envelope. */
export interface KombuIn {
  readonly id: string
  readonly body: string
  /** What the body holds (so the worker need not decode it again). */
  readonly message: Message
  readonly priority: number
  readonly redelivered: boolean
  /** Epoch ms before which it must not run, or null. */
  readonly etaMs: number | null
  /** Sent by a workflow under a chosen id (our `celeriac_once` header). */
  readonly once: boolean
}

const ORIGIN = `gen${process.pid}@${hostname()}`

function json(value: unknown, what: string): string {
  try {
    return JSON.stringify(value)
  } catch (cause) {
    throw new ConfigError(`${what} cannot be sent as Celery JSON: ${(cause as Error).message}`, { cause })
  }
}

/** Python-like repr of JSON values, for the argsrepr and kwargsrepr headers (shown by Flower). */
function repr(value: unknown): string {
  const text = json(value, 'argument')
  return text.length > 1024 ? `${text.slice(0, 1021)}...` : text
}

/** Celery's message for a celeriac body (the body `app.send` encoded). */
export function toKombu(celeriacBody: string): KombuOut {
  const msg = decodeMessage(celeriacBody)
  if (msg.chord)
    throw new ConfigError(
      `task "${msg.task}": chords are not carried on the Celery wire (Celery joins a chord in its result backend with a counter celeriac does not keep); send the members and the body yourself`,
    )
  if (msg.rest !== undefined || msg.chain?.some(isGroupStep))
    throw new ConfigError(
      `task "${msg.task}": a chain with a group inside, or one stored in parts, is not carried on the Celery wire; send its parts yourself`,
    )
  const [soft, hard] = msg.timelimit
  const headers: Record<string, unknown> = { ...msg.headers }
  Object.assign(headers, {
    lang: 'js',
    task: msg.task,
    id: msg.id,
    shadow: null,
    eta: msg.eta,
    expires: msg.expires,
    group: msg.group,
    group_index: null,
    retries: msg.retries,
    // Celery writes [hard, soft].
    timelimit: [hard, soft],
    root_id: msg.root_id ?? msg.id,
    parent_id: msg.parent_id,
    argsrepr: repr(msg.args),
    kwargsrepr: repr(msg.kwargs),
    origin: ORIGIN,
    ignore_result: msg.ignore_result,
  })
  if (msg.once) headers[ONCE_HEADER] = true
  const embed = {
    callbacks: msg.callbacks ? msg.callbacks.map(toCelerySig) : null,
    errbacks: msg.errbacks ? msg.errbacks.map(toCelerySig) : null,
    // Celery pops the next step from the end.
    chain: msg.chain ? (msg.chain as SigWire[]).map(toCelerySig).reverse() : null,
    chord: null,
  }
  const body = json([msg.args, msg.kwargs, embed], `task "${msg.task}"`)
  const payload = {
    body: Buffer.from(body, 'utf8').toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers,
    properties: {
      correlation_id: msg.id,
      reply_to: '',
      delivery_mode: 2,
      delivery_info: { exchange: msg.queue, routing_key: msg.queue },
      priority: msg.priority,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  }
  return { payload: JSON.stringify(payload), queue: msg.queue, priority: msg.priority }
}

/**
 * Our header for a message a workflow sent under a chosen id (`once`): a celeriac worker that
 * finds a finished result under that id does not run it again. Celery ignores it.
 */
const ONCE_HEADER = 'celeriac_once'

/**
 * A celeriac signature as Celery writes one in `embed` (`celery.canvas.Signature` as a dict):
 * its id in `options.task_id`, its own callbacks in `options.link` / `options.link_error`.
 */
function toCelerySig(w: SigWire): Record<string, unknown> {
  // Without a queue, whichever worker sends the step routes it: a Python worker to its
  // task_default_queue ("celery"), a celeriac worker to the task's or the app's default queue.
  const options: Record<string, unknown> = { task_id: w.id }
  if (w.queue !== undefined) options.queue = w.queue
  if (w.priority !== undefined) options.priority = w.priority
  if (w.callbacks) options.link = w.callbacks.map(toCelerySig)
  if (w.errbacks) options.link_error = w.errbacks.map(toCelerySig)
  return {
    task: w.task,
    args: w.args,
    kwargs: w.kwargs ?? {},
    options,
    subtask_type: null,
    immutable: w.immutable === true,
    chord_size: null,
  }
}

/** A stable id for a signature Celery sent without one (a link not frozen): the same on redelivery. */
function derivedId(parent: string, path: string): string {
  const h = createHash('sha1').update(`${parent}/${path}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/**
 * A signature from Celery's `embed` as celeriac's. Only plain task signatures: a group, chord or
 * nested chain (`subtask_type`) is refused with a reason. Errbacks are marked to be called as
 * Celery calls them (`failureAs: 'id'`). Unknown options (reply_to, exchange, …) are ignored.
 */
function fromCelerySig(
  v: unknown,
  where: string,
  parent: string,
  kind: 'callback' | 'errback',
  depth: number,
): SigWire {
  if (!isObject(v)) throw new MalformedMessageError(`${where} must be a signature object`)
  if (v.subtask_type !== null && v.subtask_type !== undefined)
    throw new MalformedMessageError(
      `${where} is a Celery ${String(v.subtask_type)}: only plain task signatures are run from embed (no groups, chords or nested chains)`,
    )
  if (typeof v.task !== 'string' || v.task === '')
    throw new MalformedMessageError(`${where}.task must be a non-empty string`)
  const args = v.args ?? []
  const kwargs = v.kwargs ?? {}
  const options = v.options ?? {}
  if (!Array.isArray(args)) throw new MalformedMessageError(`${where}.args must be an array`)
  if (!isObject(kwargs)) throw new MalformedMessageError(`${where}.kwargs must be an object`)
  if (!isObject(options)) throw new MalformedMessageError(`${where}.options must be an object`)
  const id = options.task_id ?? derivedId(parent, where)
  if (typeof id !== 'string' || id === '')
    throw new MalformedMessageError(`${where}.options.task_id must be a non-empty string`)
  const queue = options.queue
  const priority = options.priority
  const wire: Record<string, unknown> = { id, task: v.task, args }
  if (Object.keys(kwargs).length) wire.kwargs = kwargs
  if (v.immutable === true) wire.immutable = true
  if (typeof queue === 'string' && queue !== '') wire.queue = queue
  if (typeof priority === 'number' && Number.isInteger(priority) && priority >= 0 && priority <= 9)
    wire.priority = priority
  if (kind === 'errback') wire.failureAs = 'id'
  for (const [opt, field, k] of [
    ['link', 'callbacks', 'callback'],
    ['link_error', 'errbacks', 'errback'],
  ] as const) {
    const list = options[opt]
    if (list === null || list === undefined) continue
    if (depth > 0)
      throw new MalformedMessageError(`${where}.options.${opt}: callbacks of callbacks are not carried`)
    const items = Array.isArray(list) ? list : [list]
    if (items.length)
      wire[field] = items.map((x, i) =>
        fromCelerySig(x, `${where}.options.${opt}[${i}]`, parent, k, depth + 1),
      )
  }
  return wire as unknown as SigWire
}

/** celeriac's workflow fields for Celery's `embed`. */
function flowOf(embed: Record<string, unknown>, id: string): MessageFlow {
  if (embed.chord !== null && embed.chord !== undefined)
    throw new MalformedMessageError(
      'embed carries a chord: chords are not run across languages (Celery joins them in its result backend with a counter celeriac does not keep)',
    )
  const flow: MessageFlow = {}
  const list = (key: string): unknown[] | null => {
    const v = embed[key]
    if (v === null || v === undefined) return null
    if (!Array.isArray(v))
      throw new MalformedMessageError(`embed.${key} must be a list of signatures or null`)
    return v.length ? v : null
  }
  const callbacks = list('callbacks')
  if (callbacks)
    flow.callbacks = callbacks.map((s, i) => fromCelerySig(s, `embed.callbacks[${i}]`, id, 'callback', 1))
  const errbacks = list('errbacks')
  if (errbacks)
    flow.errbacks = errbacks.map((s, i) => fromCelerySig(s, `embed.errbacks[${i}]`, id, 'errback', 1))
  const chain = list('chain')
  // Celery keeps the next step last; celeriac first.
  if (chain)
    flow.chain = chain.map((s, i) => fromCelerySig(s, `embed.chain[${i}]`, id, 'callback', 0)).reverse()
  return flow
}

/** The binding kombu declares for Celery's default queue layout (exchange and key = queue). */
export function defaultBinding(queue: string): { exchange: string; member: string } {
  return { exchange: queue, member: bindingMember(queue, queue) }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Celery writes naive ISO times in UTC; an explicit zone is kept. Null when absent. */
function isoTime(v: unknown, field: string): string | null {
  if (v === null || v === undefined) return null
  if (typeof v !== 'string') throw new MalformedMessageError(`header "${field}" must be an ISO time or null`)
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(v) ? v : `${v}Z`
  const ms = Date.parse(zoned)
  if (Number.isNaN(ms))
    throw new MalformedMessageError(`header "${field}" is not an ISO time: ${v.slice(0, 60)}`)
  return new Date(ms).toISOString()
}

function optionalId(v: unknown, field: string): string | null {
  if (v === null || v === undefined) return null
  if (typeof v !== 'string') throw new MalformedMessageError(`header "${field}" must be a string or null`)
  return v
}

function timeLimit(v: unknown): number | null {
  if (v === null || v === undefined) return null
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new MalformedMessageError(
      'header "timelimit" must be [hard, soft] in seconds (positive numbers or null)',
    )
  return v
}

/**
 * Reads a kombu payload taken from `queue`. Throws MalformedMessageError naming the first
 * thing wrong; the broker dead-letters such messages with that reason.
 */
export function fromKombu(raw: string, queue: string): KombuIn {
  let env: unknown
  try {
    env = JSON.parse(raw)
  } catch {
    throw new MalformedMessageError('the kombu envelope is not JSON')
  }
  if (!isObject(env)) throw new MalformedMessageError('the kombu envelope is not a JSON object')
  const headers = env.headers
  const props = env.properties
  if (!isObject(headers) || !isObject(props))
    throw new MalformedMessageError('the kombu envelope needs "headers" and "properties" objects')
  if (typeof headers.task !== 'string' || headers.task === '')
    throw new MalformedMessageError(
      'no "task" header: only Celery message protocol v2 is read (protocol 1 is not supported)',
    )
  const id = headers.id
  if (typeof id !== 'string' || id === '')
    throw new MalformedMessageError('header "id" must be a non-empty string')
  const type = env['content-type']
  if (type !== 'application/json')
    throw new MalformedMessageError(
      `content-type ${JSON.stringify(type)} is not read: only application/json (configure Celery's task_serializer = "json")`,
    )
  if (headers.compression !== undefined && headers.compression !== null)
    throw new MalformedMessageError('compressed messages are not read')
  if (typeof env.body !== 'string') throw new MalformedMessageError('"body" must be a string')
  const encoding = props.body_encoding
  let text = env.body
  if (encoding === 'base64') text = Buffer.from(env.body, 'base64').toString('utf8')
  else if (encoding !== undefined && encoding !== null)
    throw new MalformedMessageError(`body_encoding ${JSON.stringify(encoding)} is not read (only base64)`)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new MalformedMessageError('the task body is not JSON')
  }
  if (!Array.isArray(body) || body.length !== 3)
    throw new MalformedMessageError('the task body must be [args, kwargs, embed]')
  const [args, kwargs, embed] = body as [unknown, unknown, unknown]
  if (!Array.isArray(args)) throw new MalformedMessageError('args (body[0]) must be an array')
  if (!isObject(kwargs)) throw new MalformedMessageError('kwargs (body[1]) must be an object')
  if (embed !== null && !isObject(embed))
    throw new MalformedMessageError('embed (body[2]) must be an object or null')
  const flow = embed ? flowOf(embed, id) : {}
  const retries = headers.retries ?? 0
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)
    throw new MalformedMessageError('header "retries" must be a non-negative integer')
  const tl = headers.timelimit ?? [null, null]
  if (!Array.isArray(tl) || tl.length !== 2)
    throw new MalformedMessageError(
      'header "timelimit" must be [hard, soft] in seconds (positive numbers or null)',
    )
  const priority = props.priority ?? 0
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 9)
    throw new MalformedMessageError('property "priority" must be an integer from 0 to 9')
  const eta = isoTime(headers.eta, 'eta')
  const msg: Message = {
    v: ENVELOPE_VERSION,
    id,
    task: headers.task,
    args: Object.keys(kwargs).length ? [...(args as unknown[]), kwargs] : (args as unknown[]),
    kwargs,
    queue,
    priority,
    eta,
    expires: isoTime(headers.expires, 'expires'),
    retries,
    timelimit: [timeLimit(tl[1]), timeLimit(tl[0])],
    root_id: optionalId(headers.root_id, 'root_id') ?? id,
    parent_id: optionalId(headers.parent_id, 'parent_id'),
    group: optionalId(headers.group, 'group'),
    ignore_result: headers.ignore_result === true,
    sent_at: new Date().toISOString(),
    headers: carriedHeaders(headers),
    ...flow,
    ...(headers[ONCE_HEADER] === true ? { once: true as const } : {}),
  }
  return {
    id,
    body: encodeMessage(msg, Number.MAX_SAFE_INTEGER),
    message: msg,
    priority,
    redelivered:
      headers.redelivered === true ||
      (isObject(props.delivery_info) && props.delivery_info.redelivered === true),
    etaMs: eta === null ? null : Date.parse(eta),
    once: msg.once === true,
  }
}

/** The id and task a payload names, for dead-letter records of unreadable messages. Never throws. */
export function peekKombu(raw: string): { id?: string; task?: string } {
  try {
    const env = JSON.parse(raw) as { headers?: Record<string, unknown> }
    const h = env.headers ?? {}
    return {
      id: typeof h.id === 'string' ? h.id : undefined,
      task: typeof h.task === 'string' ? h.task : undefined,
    }
  } catch {
    return {}
  }
}

/**
 * Headers of a Celery message kept in ours: its origin, and W3C trace context (`traceparent`,
 * `tracestate`: what celeriac's tracing writes, and what OpenTelemetry's Celery instrumentation
 * sends), so a run joins the sender's trace across the wire.
 */
function carriedHeaders(h: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  if (typeof h.origin === 'string') out['celery-origin'] = h.origin
  if (typeof h.traceparent === 'string') out.traceparent = h.traceparent
  if (typeof h.tracestate === 'string') out.tracestate = h.tracestate
  return out
}
