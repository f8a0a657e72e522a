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

/**
 * A group as a step of a chain: its members get the previous result, and the step after it (a
 * signature, always in the same list) gets the list of their results: a chord made on the way.
 */
export interface GroupStepWire {
  /** The group's id: the join's key; member `i` ends with the id `<id>.<i>`. */
  readonly id: string
  readonly group: readonly MemberWire[]
}

/** A member of a group step: one signature, or a chain of steps. */
export interface MemberWire {
  /** The member's steps; the first is a signature, the last one's id is `<group id>.<i>`. */
  readonly steps: readonly StepWire[]
  /** Where the steps after `steps` are stored (see `MessageFlow.rest`). */
  readonly rest?: string
}

/** A step of a chain: a task call, or a group whose results go to the next step. */
export type StepWire = SigWire | GroupStepWire

export function isGroupStep(s: StepWire): s is GroupStepWire {
  return (s as GroupStepWire).group !== undefined
}

/** A chord member's link to its chord. */
export interface ChordWire {
  /**
   * The chord's id: the join's key; members are `<id>.<index>`. For a chord sent by `chord()`,
   * the body's task id too; for a group inside a chain, the group step's id.
   */
  readonly id: string
  /** How many members the chord has. */
  readonly size: number
  /** Run with the members' results, in member order, before the body's own args. */
  readonly body: SigWire
  /** Run (once for the chord) with the failure when a member fails. */
  readonly errbacks?: readonly SigWire[]
  /** Steps after the body (a chain the group was part of). */
  readonly chain?: readonly StepWire[]
  /** Where the steps after `chain` are stored. */
  readonly rest?: string
  /** The chord the body's chain belongs to, as a member (a group inside a chord member). */
  readonly chord?: ChordWire
}

/** A stored part of a long chain (coordination record), read when `chain` runs out. */
export interface ChainSegment {
  readonly steps: readonly StepWire[]
  readonly rest?: string
}

/** The workflow fields of a message, all optional. */
export interface MessageFlow {
  /** Steps still to run after this task succeeds, in order; the first receives its result. */
  chain?: StepWire[]
  /**
   * A long chain carries its next steps in `chain` and the others stored, a segment at a time:
   * the key of the coordination record (`canvas:chain` space) holding the steps after `chain`.
   */
  rest?: string
  /** Sent with this task's result when it succeeds (`link`). */
  callbacks?: SigWire[]
  /** Sent with a TaskFailure when this task fails for good (`linkError`). */
  errbacks?: SigWire[]
  /**
   * The chord this task belongs to as a member (or as the end of a member's chain): joined when
   * the task succeeds with no steps left, failed when it fails for good.
   */
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

/** How deep groups, chains and chords may nest inside one message. */
const MAX_DEPTH = 8

function object(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`"${where}" must be an object`)
  return v as Record<string, unknown>
}

function onlyFields(o: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const k of Object.keys(o))
    if (!known.includes(k)) fail(`"${where}" has an unknown field ${renderThrown(k, 40)}`)
}

function restKey(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') fail(`"${where}" must be a non-empty string`)
  return v
}

function depthOk(depth: number, where: string): void {
  if (depth > MAX_DEPTH) fail(`"${where}" nests groups and chains deeper than ${MAX_DEPTH}`)
}

function groupStep(o: Record<string, unknown>, where: string, depth: number): GroupStepWire {
  depthOk(depth, where)
  onlyFields(o, ['id', 'group'], where)
  if (typeof o.id !== 'string' || o.id === '') fail(`"${where}.id" must be a non-empty string`)
  if (!Array.isArray(o.group) || o.group.length === 0) fail(`"${where}.group" must be a non-empty array`)
  const group = o.group.map((m, i): MemberWire => {
    const at = `${where}.group[${i}]`
    const mo = object(m, at)
    onlyFields(mo, ['steps', 'rest'], at)
    const steps = stepList(mo.steps, `${at}.steps`, depth + 1)
    if (isGroupStep(steps[0]!)) fail(`"${at}.steps[0]" must be a signature`)
    return mo.rest === undefined ? { steps } : { steps, rest: restKey(mo.rest, `${at}.rest`) }
  })
  return { id: o.id, group }
}

/** A list of chain steps; a group step is always followed by a signature in the same list. */
function stepList(v: unknown, where: string, depth = 0): StepWire[] {
  if (!Array.isArray(v) || v.length === 0) fail(`"${where}" must be a non-empty array of signatures`)
  const steps = v.map((s, i): StepWire => {
    const at = `${where}[${i}]`
    const o = object(s, at)
    return o.group !== undefined ? groupStep(o, at, depth) : sigWire(o, at)
  })
  steps.forEach((s, i) => {
    if (isGroupStep(s) && (i === steps.length - 1 || isGroupStep(steps[i + 1]!)))
      fail(`"${where}[${i}]" is a group that is not followed by a signature`)
  })
  return steps
}

function chordWire(v: unknown, where: string, depth: number): ChordWire {
  depthOk(depth, where)
  const o = object(v, where)
  if (typeof o.id !== 'string' || o.id === '') fail(`"${where}.id" must be a non-empty string`)
  if (typeof o.size !== 'number' || !Number.isInteger(o.size) || o.size < 1)
    fail(`"${where}.size" must be a positive integer`)
  onlyFields(o, ['id', 'size', 'body', 'errbacks', 'chain', 'rest', 'chord'], where)
  return {
    id: o.id,
    size: o.size,
    body: sigWire(o.body, `${where}.body`),
    ...(o.errbacks !== undefined ? { errbacks: sigList(o.errbacks, `${where}.errbacks`, false) } : {}),
    ...(o.chain !== undefined ? { chain: stepList(o.chain, `${where}.chain`, depth + 1) } : {}),
    ...(o.rest !== undefined ? { rest: restKey(o.rest, `${where}.rest`) } : {}),
    ...(o.chord !== undefined ? { chord: chordWire(o.chord, `${where}.chord`, depth + 1) } : {}),
  }
}

/** Checks a stored chain segment (JSON already parsed), as strictly as a message's fields. */
export function decodeSegment(v: unknown): ChainSegment {
  const o = object(v, 'segment')
  onlyFields(o, ['steps', 'rest'], 'segment')
  const steps = stepList(o.steps, 'segment.steps')
  return o.rest === undefined ? { steps } : { steps, rest: restKey(o.rest, 'segment.rest') }
}

/**
 * Checks the workflow fields of a decoded message body; absent fields stay absent. Throws
 * MalformedMessageError naming the first thing wrong.
 */
export function decodeFlow(m: Record<string, unknown>): MessageFlow {
  const flow: MessageFlow = {}
  if (m.chain !== undefined) flow.chain = stepList(m.chain, 'chain')
  if (m.rest !== undefined) flow.rest = restKey(m.rest, 'rest')
  if (m.callbacks !== undefined) flow.callbacks = sigList(m.callbacks, 'callbacks', false)
  if (m.errbacks !== undefined) flow.errbacks = sigList(m.errbacks, 'errbacks', false)
  if (m.chord !== undefined) flow.chord = chordWire(m.chord, 'chord', 0)
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
    f.rest !== undefined ||
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
