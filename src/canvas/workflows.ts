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
import { memberId, type SigWire } from '../core/flow.js'
import { uuidv7 } from '../core/ids.js'
import { callbackWires, type AnySignature, type Signature, type SignatureResult } from '../core/signature.js'
import type { Duration } from '../core/duration.js'
import { toMs } from '../core/duration.js'
import { flowKey } from './keys.js'
import { toJob } from './publish.js'
import { FlowResult, GroupResult } from './results.js'
import type { FlowNode } from './tree.js'
import type { ChainCheck, ChainResultOf, GroupResults } from './types.js'

export interface ApplyOptions {
  /** The workflow's id (the chain's or chord's result id, the group's id); default a new UUIDv7. */
  readonly id?: string
  /** Run the first tasks no sooner than this long from now. */
  readonly countdown?: Duration
}

function appOf(sigs: readonly AnySignature[], what: string): App {
  const app = sigs.find((s) => s.app !== null)?.app
  if (!isApp(app))
    throw new ConfigError(`${what}: its signatures must come from task.s() or task.si() of an app`)
  return app
}

function checkSigs(sigs: readonly unknown[], what: string): void {
  sigs.forEach((s, i) => {
    if (!s || typeof s !== 'object' || typeof (s as AnySignature).toWire !== 'function')
      throw new ConfigError(`${what}: item ${i} is not a signature (make one with task.s(...))`)
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

async function send(app: App, rootId: string, tree: FlowNode, jobs: OutgoingJob[]): Promise<void> {
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
  await broker.publish(jobs)
}

function availableAt(options: ApplyOptions, jobs: OutgoingJob[]): OutgoingJob[] {
  if (options.countdown === undefined) return jobs
  const at = Date.now() + toMs(options.countdown, 'countdown')
  return jobs.map((j) => ({ ...j, availableAt: at }))
}

/** A chain: each step's result goes before the next step's arguments. */
export class Chain<R> {
  constructor(readonly steps: readonly AnySignature[]) {}

  /** Sends the first step; workers send the others. Resolves the last step's result. */
  async apply(options: ApplyOptions = {}): Promise<FlowResult<R>> {
    const app = appOf(this.steps, 'chain')
    const root = options.id ?? uuidv7()
    checkId(root)
    const n = this.steps.length
    const ids = this.steps.map((_, k) => (k === n - 1 ? root : `${root}.${k}`))
    const wires: SigWire[] = this.steps.map((s, k) => s.toWire(ids[k]!))
    const [first, ...rest] = wires
    const job = toJob(app, {
      wire: first!,
      rootId: root,
      parentId: null,
      flow: { once: true, ...(rest.length ? { chain: rest } : {}) },
    })
    const nodes = this.steps.map((s, k) => taskNode(s, ids[k]!))
    await send(app, root, { kind: 'chain', id: root, steps: nodes }, availableAt(options, [job]))
    const results = ids.map((id) => new FlowResult(id, () => app.resultStore()))
    results.forEach((r, k) => {
      if (k > 0) {
        r.parent = results[k - 1]!
        results[k - 1]!.children.push(r)
      }
      linked(app, nodes[k]!, r)
    })
    return results[n - 1] as FlowResult<R>
  }

  delay(): Promise<FlowResult<R>> {
    return this.apply()
  }
}

/** A group: members run in parallel. */
export class Group<T extends unknown[]> {
  constructor(readonly members: readonly AnySignature[]) {}

  async apply(options: ApplyOptions = {}): Promise<GroupResult<T>> {
    const id = options.id ?? uuidv7()
    checkId(id)
    if (!this.members.length) return new GroupResult<T>(id, [])
    const app = appOf(this.members, 'group')
    const jobs = this.members.map((s, i) =>
      toJob(app, { wire: s.toWire(memberId(id, i)), rootId: id, parentId: null, flow: { once: true } }),
    )
    const node = groupNode(id, this.members)
    await send(app, id, node, availableAt(options, jobs))
    return groupResult<T>(app, id, this.members)
  }

  delay(): Promise<GroupResult<T>> {
    return this.apply()
  }
}

function groupNode(id: string, members: readonly AnySignature[]): FlowNode {
  const tasks = members.map((s) => s.task)
  return {
    kind: 'group',
    id,
    size: members.length,
    tasks: tasks.every((t) => t === tasks[0]) ? tasks[0]! : tasks,
  }
}

function groupResult<T extends unknown[]>(
  app: App,
  id: string,
  members: readonly AnySignature[],
): GroupResult<T> {
  const results = members.map((s, i) => {
    const r = new FlowResult(memberId(id, i), () => app.resultStore())
    linked(app, taskNode(s, r.id), r)
    return r
  })
  return new GroupResult<T>(id, results)
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
   * body's linkError callbacks run once.
   */
  async apply(options: ApplyOptions = {}): Promise<FlowResult<R>> {
    const app = appOf([this.body, ...this.header.members], 'chord')
    const id = options.id ?? uuidv7()
    checkId(id)
    const withLinks = this.body.toWire(id)
    const members = this.header.members
    const node: FlowNode = {
      kind: 'chord',
      id,
      header: groupNode(id, members),
      body: taskNode(this.body, id),
    }
    let jobs: OutgoingJob[]
    if (!members.length) {
      jobs = [toJob(app, { wire: withLinks, input: [[]], rootId: id, parentId: null, flow: { once: true } })]
    } else {
      const chord = {
        id,
        size: members.length,
        body: withLinks,
        ...(withLinks.errbacks ? { errbacks: [...withLinks.errbacks] } : {}),
      }
      jobs = members.map((s, i) =>
        toJob(app, {
          wire: s.toWire(memberId(id, i)),
          rootId: id,
          parentId: null,
          flow: { chord, once: true },
        }),
      )
    }
    await send(app, id, node, availableAt(options, jobs))
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
 * A chain of signatures: each result goes before the next step's arguments, checked at compile
 * time.
 *
 * @example
 * const r = await chain(add.s(2, 2), mul.s(4)).apply()   // FlowResult<number>
 * await r.get()                                          // 16
 */
export function chain<S extends readonly [AnySignature, ...AnySignature[]]>(
  ...steps: S extends ChainCheck<S> ? S : ChainCheck<S>
): Chain<ChainResultOf<S>> {
  if (!steps.length) throw new ConfigError('chain() needs at least one signature')
  checkSigs(steps, 'chain')
  return new Chain(steps as unknown as AnySignature[])
}

/**
 * A group of signatures run in parallel; `get()` gives their results in order (a tuple for a
 * tuple of members).
 *
 * @example
 * const g = await group([add.s(1, 1), greet.s('Ada')]).apply()
 * const [two, hi] = await g.get()
 */
export function group<const S extends readonly Signature<unknown, []>[]>(members: S): Group<GroupResults<S>> {
  if (!Array.isArray(members)) throw new ConfigError('group() takes an array of signatures')
  checkSigs(members, 'group')
  return new Group(members as unknown as AnySignature[])
}

/**
 * A group and a body called with the list of its members' results, once all have succeeded.
 *
 * @example
 * const total = await chord(group(xs.map((x) => square.s(x))), sum.s()).apply()
 */
export function chord<T extends unknown[], C extends Signature<unknown, [T]>>(
  header: Group<T>,
  body: C,
): Chord<SignatureResult<C>> {
  if (!(header instanceof Group)) throw new ConfigError('chord() takes a group(...) first')
  checkSigs([body], 'chord body')
  return new Chord(header as unknown as Group<unknown[]>, body as AnySignature)
}
