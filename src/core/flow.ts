/**
 * The workflow part of a message: what a worker sends after the task ends. It travels in the
 * message itself (never only in a worker's memory), so a worker killed at any point leaves the
 * next delivery everything it needs to carry the workflow on.
 *
 * Field names follow Celery's protocol v2 `embed` (`callbacks`, `errbacks`, `chain`, `chord`).
 * Every signature on the wire carries the id its task will get: ids are chosen when the workflow
 * is sent, so a worker that sends a step twice (it was killed before acknowledging) sends the
 * same id, which an idempotent broker skips and a worker runs at most once (`once`).
 */
import { MalformedMessageError } from './errors.js'
import { renderThrown } from './render.js'

/** A task call inside a message: the next step of a chain, a callback, a chord's body. */
export interface SigWire {
  readonly id: string
  readonly task: string
  readonly args: unknown[]
  /** Immutable: the previous result is not put before the args. */
  readonly immutable?: true
  readonly queue?: string
  readonly priority?: number
  /** Keyword arguments, for tasks that take them (Celery's); celeriac tasks take none. */
  readonly kwargs?: Record<string, unknown>
  /**
   * Set on errbacks read from Celery's wire: called as Celery calls an errback it does not run
   * itself, with the failed task's id first instead of a TaskFailure.
   */
  readonly failureAs?: 'id'
  /** This step's own `link` and `linkError` callbacks (which carry none of their own). */
  readonly callbacks?: readonly SigWire[]
  readonly errbacks?: readonly SigWire[]
}

/** A chord member's link to its chord. */
export interface ChordWire {
  /** The chord's id: the body's task id, and the join's key. Members are `<id>.<index>`. */
  readonly id: string
  /** How many members the chord has. */
  readonly size: number
  /** Run with the members' results, in member order, before the body's own args. */
  readonly body: SigWire
  /** Run (once for the chord) with the failure when a member fails. */
  readonly errbacks?: readonly SigWire[]
}

/** The workflow fields of a message, all optional. */
export interface MessageFlow {
  /** Steps still to run after this task succeeds, in order; the first receives its result. */
  chain?: SigWire[]
  /** Sent with this task's result when it succeeds (`link`). */
  callbacks?: SigWire[]
  /** Sent with a TaskFailure when this task fails for good (`linkError`). */
  errbacks?: SigWire[]
  chord?: ChordWire
  /**
   * Sent by a workflow under a chosen id: a worker that finds a finished result under this id
   * acknowledges the message without running it, so a step sent again runs once.
   */
  once?: true
}

/** What a `linkError` callback receives first: which task failed and why. */
export interface TaskFailure {
  readonly id: string
  readonly task: string
  readonly error: { readonly name: string; readonly message: string }
}

function fail(what: string): never {
  throw new MalformedMessageError(what)
}

function sigWire(v: unknown, where: string, nested = true): SigWire {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`"${where}" must be an object`)
  const s = v as Record<string, unknown>
  if (typeof s.id !== 'string' || s.id === '') fail(`"${where}.id" must be a non-empty string`)
  if (typeof s.task !== 'string' || s.task === '') fail(`"${where}.task" must be a non-empty string`)
  if (!Array.isArray(s.args)) fail(`"${where}.args" must be an array`)
  if (s.immutable !== undefined && s.immutable !== true) fail(`"${where}.immutable" must be true or absent`)
  if (s.queue !== undefined && (typeof s.queue !== 'string' || s.queue === ''))
    fail(`"${where}.queue" must be a non-empty string`)
  if (
    s.priority !== undefined &&
    (typeof s.priority !== 'number' || !Number.isInteger(s.priority) || s.priority < 0 || s.priority > 9)
  )
    fail(`"${where}.priority" must be an integer from 0 to 9`)
  if (
    s.kwargs !== undefined &&
    (s.kwargs === null || typeof s.kwargs !== 'object' || Array.isArray(s.kwargs))
  )
    fail(`"${where}.kwargs" must be an object`)
  if (s.failureAs !== undefined && s.failureAs !== 'id') fail(`"${where}.failureAs" must be "id" or absent`)
  const known = nested ? FIELDS_NESTED : FIELDS
  for (const k of Object.keys(s))
    if (!known.includes(k)) fail(`"${where}" has an unknown field ${renderThrown(k, 40)}`)
  if (s.callbacks !== undefined) sigList(s.callbacks, `${where}.callbacks`, false)
  if (s.errbacks !== undefined) sigList(s.errbacks, `${where}.errbacks`, false)
  return s as unknown as SigWire
}

const FIELDS = ['id', 'task', 'args', 'immutable', 'queue', 'priority', 'kwargs', 'failureAs']
const FIELDS_NESTED = [...FIELDS, 'callbacks', 'errbacks']

function sigList(v: unknown, where: string, nested = true): SigWire[] {
  if (!Array.isArray(v) || v.length === 0) fail(`"${where}" must be a non-empty array of signatures`)
  return v.map((s, i) => sigWire(s, `${where}[${i}]`, nested))
}

/**
 * Checks the workflow fields of a decoded message body; absent fields stay absent. Throws
 * MalformedMessageError naming the first thing wrong.
 */
export function decodeFlow(m: Record<string, unknown>): MessageFlow {
  const flow: MessageFlow = {}
  if (m.chain !== undefined) flow.chain = sigList(m.chain, 'chain')
  if (m.callbacks !== undefined) flow.callbacks = sigList(m.callbacks, 'callbacks', false)
  if (m.errbacks !== undefined) flow.errbacks = sigList(m.errbacks, 'errbacks', false)
  if (m.chord !== undefined) {
    const c = m.chord
    if (c === null || typeof c !== 'object' || Array.isArray(c)) fail('"chord" must be an object')
    const o = c as Record<string, unknown>
    if (typeof o.id !== 'string' || o.id === '') fail('"chord.id" must be a non-empty string')
    if (typeof o.size !== 'number' || !Number.isInteger(o.size) || o.size < 1)
      fail('"chord.size" must be a positive integer')
    for (const k of Object.keys(o))
      if (!['id', 'size', 'body', 'errbacks'].includes(k))
        fail(`"chord" has an unknown field ${renderThrown(k, 40)}`)
    flow.chord = {
      id: o.id,
      size: o.size,
      body: sigWire(o.body, 'chord.body'),
      ...(o.errbacks !== undefined ? { errbacks: sigList(o.errbacks, 'chord.errbacks', false) } : {}),
    }
  }
  if (m.once !== undefined) {
    if (m.once !== true) fail('"once" must be true or absent')
    flow.once = true
  }
  return flow
}

/** Whether a message takes part in a workflow (then its result is always stored). */
export function hasFlow(f: MessageFlow): boolean {
  return (
    f.chain !== undefined ||
    f.callbacks !== undefined ||
    f.errbacks !== undefined ||
    f.chord !== undefined ||
    f.once === true
  )
}

/** The id of the `i`-th member of a group or chord. */
export function memberId(groupId: string, index: number): string {
  return `${groupId}.${index}`
}
