/**
 * Turning workflow signatures into jobs: one message per task call, its workflow fields set, its
 * id the one chosen when the workflow was sent. Used by producers (chain, group, chord) and by
 * workers carrying a workflow on.
 */
import type { OutgoingJob } from '../contracts/broker.js'
import type { App } from '../core/app.js'
import { isGroupStep, type ChordWire, type MessageFlow, type SigWire, type StepWire } from '../core/flow.js'
import { encodeMessage } from '../core/message.js'

/** One task call to send: a signature, the arguments it gets, and its place in the workflow. */
export interface Send {
  readonly wire: SigWire
  /** What goes before the signature's own args (the previous result), unless it is immutable. */
  readonly input?: readonly [unknown]
  readonly rootId: string
  readonly parentId: string | null
  /** Workflow fields besides the signature's own callbacks. */
  readonly flow?: MessageFlow
}

/** The arguments a signature's task is called with. */
export function argsOf(s: Send): unknown[] {
  return s.input && !s.wire.immutable ? [s.input[0], ...s.wire.args] : [...s.wire.args]
}

/**
 * The job for one send. Throws what encoding throws (a message over maxMessageBytes, a value the
 * codec cannot write).
 */
export function toJob(app: App, s: Send, now = Date.now()): OutgoingJob {
  const { wire } = s
  const defaults = app.getTask(wire.task)?.options ?? {}
  const { message, availableAt } = app.buildMessage(
    wire.task,
    argsOf(s),
    {
      id: wire.id,
      rootId: s.rootId,
      ...(s.parentId !== null ? { parentId: s.parentId } : {}),
      ...(wire.queue !== undefined ? { queue: wire.queue } : {}),
      ...(wire.priority !== undefined ? { priority: wire.priority } : {}),
      ...(wire.kwargs !== undefined ? { kwargs: wire.kwargs } : {}),
    },
    defaults,
    now,
  )
  const flow: MessageFlow = {
    ...s.flow,
    ...(wire.callbacks ? { callbacks: [...wire.callbacks] } : {}),
    ...(wire.errbacks ? { errbacks: [...wire.errbacks] } : {}),
  }
  return {
    id: message.id,
    queue: message.queue,
    priority: message.priority,
    body: encodeMessage({ ...message, ...flow }, app.maxMessageBytes),
    availableAt,
  }
}

/** Where a chain goes on: its next steps, where the others are stored, the chord it ends in. */
export interface Continuation {
  readonly steps: readonly StepWire[]
  readonly rest?: string | undefined
  readonly chord?: ChordWire | undefined
}

/**
 * Adds the sends that start `c.steps[0]` (with the previous result, if any): a task with the
 * steps after it, or a group's members, each joining a chord whose body is the step after the
 * group. Used by producers for a workflow's first tasks and by workers to carry a chain on.
 */
export function continueWith(
  c: Continuation,
  input: readonly [unknown] | undefined,
  base: { readonly rootId: string; readonly parentId: string | null },
  sends: Send[],
): void {
  const [next, ...after] = c.steps
  if (!next) return
  const tail = (steps: readonly StepWire[]) => ({
    ...(steps.length ? { chain: [...steps] } : {}),
    ...(c.rest !== undefined ? { rest: c.rest } : {}),
  })
  const withInput = input ? { input } : {}
  if (!isGroupStep(next)) {
    sends.push({
      wire: next,
      ...withInput,
      ...base,
      flow: { once: true, ...tail(after), ...(c.chord ? { chord: c.chord } : {}) },
    })
    return
  }
  // A group is always followed by a signature in the same list (builders and the decoder keep it so).
  const [body, ...later] = after as [SigWire, ...StepWire[]]
  const chord: ChordWire = {
    id: next.id,
    size: next.group.length,
    body,
    ...(body.errbacks ? { errbacks: [...body.errbacks] } : {}),
    ...tail(later),
    ...(c.chord ? { chord: c.chord } : {}),
  }
  for (const m of next.group) continueWith({ steps: m.steps, rest: m.rest, chord }, input, base, sends)
}
