/**
 * chain, group and chord: workflows built from signatures, checked at compile time, sent in one
 * publish. Ids are chosen here, so every task of the workflow, and every message a worker sends
 * to carry it on, has its id before anything runs:
 *
 * - chain: its result is the last step's id R (the id you get back); step k is `R.k`;
 * - group: its id G; member i is `G.i`;
 * - chord: its result is the body's id C; member i is `C.i`;
 * - a task's link and linkError callbacks: `<task id>.link.<i>`, `<task id>.err.<i>`.
 *
 * The workflow's shape is written once to the coordination part under its root id, so that
 * `celeriac result <id>` can show the tree of any of its tasks.
 */
import type { OutgoingJob } from '../contracts/broker.js'
import { isApp, type App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { memberId } from '../core/flow.js'
import { uuidv7 } from '../core/ids.js'
import { callbackWires, type AnySignature, type Signature, type SignatureResult } from '../core/signature.js'
import type { RecordWrite } from '../contracts/coordination.js'
import type { Duration } from '../core/duration.js'
import { toMs } from '../core/duration.js'
import { flowKey, SEGMENTS } from './keys.js'
import { Packer, INLINE_STEPS, isChainLike, isGroupLike } from './build.js'
import { continueWith, toJob, type Send } from './publish.js'
import { FlowResult, GroupResult } from './results.js'
import type { FlowNode } from './tree.js'
import type { ChainCheck, ChainResultOf, GroupIn, GroupResults, StepSig } from './types.js'

export interface ApplyOptions {
  /** The workflow's id (the chain's or chord's result id, the group's id); default a new UUIDv7. */
  readonly id?: string
  /** Run the first tasks no sooner than this long from now. */
  readonly countdown?: Duration
}

/** A chain's step or a group's member. */
type Part = AnySignature | Group<unknown[], unknown> | Chain<unknown>

/** Every signature inside, groups and chains opened. */
function sigsIn(parts: readonly unknown[]): AnySignature[] {
  return parts.flatMap((p) =>
    isGroupLike(p) ? sigsIn(p.members) : isChainLike(p) ? sigsIn(p.steps) : [p as AnySignature],
  )
}

function appOf(parts: readonly Part[], what: string): App {
  const app = sigsIn(parts).find((s) => s.app !== null)?.app
  if (!isApp(app))
    throw new ConfigError(`${what}: its signatures must come from task.s() or task.si() of an app`)
  return app
}

function checkSigs(sigs: readonly unknown[], what: string, nested = false): void {
  sigs.forEach((s, i) => {
    if (nested && (s instanceof Group || s instanceof Chain)) return
    if (!s || typeof s !== 'object' || typeof (s as AnySignature).toWire !== 'function')
      throw new ConfigError(
        `${what}: item ${i} is not a signature${nested ? ', a group or a chain' : ''} (make one with task.s(...))`,
      )
  })
}

function checkId(id: string): void {
  if (typeof id !== 'string' || id === '' || id.includes('.'))
    throw new ConfigError(`a workflow id must be a non-empty string without dots, got ${JSON.stringify(id)}`)
}

function taskNode(sig: AnySignature, id: string): FlowNode {
  const node: FlowNode = { kind: 'task', id, task: sig.task }
  if (sig.callbacks.length) node.links = callbackWires(sig.callbacks, id, 'link').map((w) => w.id)
  if (sig.errbacks.length) node.errbacks = callbackWires(sig.errbacks, id, 'err').map((w) => w.id)
  return node
}

function linked(app: App, node: FlowNode, r: FlowResult): void {
  for (const id of [...(node.links ?? []), ...(node.errbacks ?? [])]) {
    const child = new FlowResult(id, () => app.resultStore())
    child.parent = r
    r.children.push(child)
  }
}

async function send(
  app: App,
  rootId: string,
  tree: FlowNode,
  jobs: OutgoingJob[],
  segments: readonly RecordWrite[] = [],
): Promise<void> {
  const broker = await app.broker()
  const coordination = await app.coordination()
  const { idempotentPublish, marksChosenIds } = broker.capabilities
  // Celery's wire (celery+redis://, celery+amqp://) has no idempotent publish; its workflows are
  // at least once there, as in Celery itself, and workers claim a step's id before running it.
  if (!idempotentPublish && !marksChosenIds && !broker.scheme.startsWith('celery+'))
    throw new ConfigError(
      `workflows need a broker with idempotent publish by id, or one whose workers claim the runs of chosen ids; the ${broker.scheme} broker has neither`,
    )
  if (!(await app.resultStore()))
    throw new ConfigError('workflows need a result backend: their steps read each other’s results')
  if (!coordination)
    throw new ConfigError(
      idempotentPublish
        ? 'workflows need a coordination part (sqlite, redis, postgres or memory)'
        : `workflows on the ${broker.scheme} broker need a coordination part (a coordination or result backend URL on redis, postgres or sqlite): its workers claim each step's id there so that a step sent twice runs once`,
    )
  await coordination.join(flowKey(rootId), [JSON.stringify(tree)], app.resultExpiresMs)
  // The stored parts of long chains exist before any step that reads them can run.
  if (segments.length) await coordination.put(SEGMENTS, segments)
  await broker.publish(jobs)
}

function availableAt(options: ApplyOptions, jobs: OutgoingJob[]): OutgoingJob[] {
  if (options.countdown === undefined) return jobs
  const at = Date.now() + toMs(options.countdown, 'countdown')
  return jobs.map((j) => ({ ...j, availableAt: at }))
}

/** Cuts long chains into stored segments, except on Celery's wire, where Python carries them on. */
async function packer(app: App): Promise<Packer> {
  const broker = await app.broker()
  const keep = app.resultExpiresMs
  return new Packer(broker.scheme.startsWith('celery+') ? Infinity : INLINE_STEPS, keep > 0 ? keep : null)
}

function jobsOf(app: App, sends: readonly Send[]): OutgoingJob[] {
  const now = Date.now()
  return sends.map((s) => toJob(app, s, now))
}

/** The shape of one part, for the tree. */
function partNode(p: Part, id: string): FlowNode {
  if (p instanceof Group) return groupNode(id, p.members)
  if (p instanceof Chain) return chainNode(p.steps, id)
  return taskNode(p, id)
}

function chainNode(steps: readonly Part[], root: string): FlowNode {
  const n = steps.length
  return {
    kind: 'chain',
    id: root,
    steps: steps.map((s, k) => partNode(s, k === n - 1 ? root : `${root}.${k}`)),
  }
}

/** The results of one part under its id. */
function partResult(app: App, p: Part, id: string): FlowResult | GroupResult<unknown[]> {
  if (p instanceof Group) return groupResult(app, id, p.members)
  const r = new FlowResult(id, () => app.resultStore())
  if (!(p instanceof Chain)) linked(app, taskNode(p, id), r)
  return r
}

/**
 * A chain: each step's result goes before the next step's arguments. A step may be a group: its
 * members get the previous result, and the step after it gets the list of their results.
 */
export class Chain<R> {
  declare readonly __chain?: { readonly result: R }

  constructor(readonly steps: readonly Part[]) {}

  /** Sends the first step; workers send the others. Resolves the last step's result. */
  async apply(options: ApplyOptions = {}): Promise<FlowResult<R>> {
    const app = appOf(this.steps, 'chain')
    const root = options.id ?? uuidv7()
    checkId(root)
    const pack = await packer(app)
    const wires = pack.chain(this.steps, root)
    const sends: Send[] = []
    continueWith(wires, undefined, { rootId: root, parentId: null }, sends)
    const tree = chainNode(this.steps, root)
    await send(app, root, tree, availableAt(options, jobsOf(app, sends)), pack.segments)
    const n = this.steps.length
    const results = this.steps.map((s, k) => partResult(app, s, k === n - 1 ? root : `${root}.${k}`))
    results.forEach((r, k) => {
      if (k === 0) return
      const prev = results[k - 1]!
      if (r instanceof FlowResult) {
        r.parent = prev
        if (prev instanceof FlowResult) prev.children.push(r)
        else prev.children.push(r)
      } else if (prev instanceof FlowResult) prev.children.push(r)
    })
    return results[n - 1] as FlowResult<R>
  }

  delay(): Promise<FlowResult<R>> {
    return this.apply()
  }
}

/**
 * A group: members (signatures or chains) run in parallel. `In` is what its members take from a
 * step before them when the group is a step of a chain (`[]`: nothing, they are complete).
 */
export class Group<T extends unknown[], In = []> {
  declare readonly __group?: { readonly result: T; readonly input: In }

  constructor(readonly members: readonly (AnySignature | Chain<unknown>)[]) {}

  async apply(this: Group<T, []>, options: ApplyOptions = {}): Promise<GroupResult<T>> {
    const id = options.id ?? uuidv7()
    checkId(id)
    if (!this.members.length) return new GroupResult<T>(id, [])
    const app = appOf(this.members, 'group')
    const pack = await packer(app)
    const sends: Send[] = []
    this.members.forEach((m, i) =>
      continueWith(pack.member(m, memberId(id, i)), undefined, { rootId: id, parentId: null }, sends),
    )
    const node = groupNode(id, this.members)
    await send(app, id, node, availableAt(options, jobsOf(app, sends)), pack.segments)
    return groupResult<T>(app, id, this.members)
  }

  delay(this: Group<T, []>): Promise<GroupResult<T>> {
    return this.apply()
  }
}

function groupNode(id: string, members: readonly Part[]): FlowNode {
  const tasks = members.map((s) => (s instanceof Chain ? 'chain' : (s as AnySignature).task))
  return {
    kind: 'group',
    id,
    size: members.length,
    tasks: tasks.every((t) => t === tasks[0]) ? tasks[0]! : tasks,
  }
}

function groupResult<T extends unknown[]>(app: App, id: string, members: readonly Part[]): GroupResult<T> {
  return new GroupResult<T>(
    id,
    members.map((s, i) => partResult(app, s, memberId(id, i)) as FlowResult),
  )
}

/** A chord: a group, then a body called with the list of the members' results. */
export class Chord<R> {
  constructor(
    readonly header: Group<unknown[]>,
    readonly body: AnySignature,
  ) {}

  /**
   * Sends the members; the member that completes the chord's join sends the body. When a member
   * fails for good, the body is not run: the chord's result is FAILURE naming that member and the
   * body's linkError callbacks run once. A member may be a chain: it joins when its last step
   * succeeds.
   */
  async apply(options: ApplyOptions = {}): Promise<FlowResult<R>> {
    const members = this.header.members
    const app = appOf([this.body, ...members], 'chord')
    const id = options.id ?? uuidv7()
    checkId(id)
    const withLinks = this.body.toWire(id)
    const node: FlowNode = {
      kind: 'chord',
      id,
      header: groupNode(id, members),
      body: taskNode(this.body, id),
    }
    const pack = await packer(app)
    const sends: Send[] = []
    const base = { rootId: id, parentId: null }
    if (!members.length) {
      sends.push({ wire: withLinks, input: [[]], ...base, flow: { once: true } })
    } else {
      const chord = {
        id,
        size: members.length,
        body: withLinks,
        ...(withLinks.errbacks ? { errbacks: [...withLinks.errbacks] } : {}),
      }
      members.forEach((m, i) => {
        const w = pack.member(m, memberId(id, i))
        continueWith({ steps: w.steps, rest: w.rest, chord }, undefined, base, sends)
      })
    }
    await send(app, id, node, availableAt(options, jobsOf(app, sends)), pack.segments)
    const header = groupResult<unknown[]>(app, id, members)
    const result = new FlowResult<R>(id, () => app.resultStore())
    result.parent = header
    header.children.push(result)
    for (const m of header.results) m.children.push(result)
    linked(app, node.body!, result)
    return result
  }

  delay(): Promise<FlowResult<R>> {
    return this.apply()
  }
}

/**
 * A chain of signatures and groups: each result goes before the next step's arguments, checked
 * at compile time. A group inside gets the previous result for each member, and the step after
 * it gets the list of their results (a chord made on the way, as Celery does).
 *
 * @example
 * const r = await chain(add.s(2, 2), mul.s(4)).apply()   // FlowResult<number>
 * await r.get()                                          // 16
 * await chain(add.s(1, 1), group([mul.s(2), mul.s(3)]), sum.s()).apply()   // 4 + 6 = 10
 */
export function chain<S extends readonly [StepSig, ...StepSig[]]>(
  ...steps: S extends ChainCheck<S> ? S : ChainCheck<S>
): Chain<ChainResultOf<S>> {
  if (!steps.length) throw new ConfigError('chain() needs at least one signature')
  checkSigs(steps, 'chain', true)
  return new Chain(steps as unknown as Part[])
}

/**
 * A group of signatures or chains run in parallel; `get()` gives their results in order (a tuple
 * for a tuple of members).
 *
 * @example
 * const g = await group([add.s(1, 1), greet.s('Ada')]).apply()
 * const [two, hi] = await g.get()
 * await group([chain(add.s(1, 1), mul.s(3)), add.s(5, 5)]).apply()   // [6, 10]
 */
export function group<const S extends readonly (Signature<unknown, never> | Chain<unknown>)[]>(
  members: S,
): Group<GroupResults<S>, GroupIn<S[number]>> {
  if (!Array.isArray(members)) throw new ConfigError('group() takes an array of signatures or chains')
  checkSigs(members, 'group', true)
  return new Group(members as unknown as (AnySignature | Chain<unknown>)[])
}

/**
 * A group and a body called with the list of its members' results, once all have succeeded.
 * Members may be chains (each joins with its last step's result).
 *
 * @example
 * const total = await chord(group(xs.map((x) => square.s(x))), sum.s()).apply()
 */
export function chord<T extends unknown[], C extends Signature<unknown, [T]>>(
  header: Group<T, []>,
  body: C,
): Chord<SignatureResult<C>> {
  if (!(header instanceof Group)) throw new ConfigError('chord() takes a group(...) first')
  checkSigs([body], 'chord body')
  return new Chord(header as unknown as Group<unknown[]>, body as AnySignature)
}
