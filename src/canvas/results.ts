/**
 * Results of workflows: an AsyncResult per task with its place in the workflow (`parent`,
 * `children`), and a GroupResult over a group's members.
 */
import type { ResultStore } from '../contracts/result-store.js'
import { AsyncResult, type GetOptions } from '../core/result.js'
import type { TaskState } from '../core/states.js'

/** A task's result inside a workflow. */
export class FlowResult<R = unknown> extends AsyncResult<R> {
  /** The step or group this one follows; null for a first step. */
  parent: FlowResult | GroupResult<unknown[]> | null = null
  /** What this task sends when it ends: the next chain step, its callbacks, a chord's body. */
  readonly children: (FlowResult | GroupResult<unknown[]>)[] = []

  constructor(id: string, store: () => Promise<ResultStore | null>) {
    super(id, store)
  }
}

/**
 * The results of a group: `results` in member order; `get()` resolves all of them (a tuple for
 * a tuple of members), rejecting with the first member's error that fails.
 */
export class GroupResult<T extends unknown[]> {
  /** Set by a chord: its body. */
  readonly children: FlowResult[] = []

  constructor(
    /** The group's id; member `i` has the id `<id>.<i>`. */
    readonly id: string,
    readonly results: FlowResult[],
  ) {}

  /** Waits for every member. */
  async get(options: GetOptions = {}): Promise<T> {
    return (await Promise.all(this.results.map((r) => r.get(options)))) as T
  }

  /** Each member's state, in member order. */
  async states(): Promise<TaskState[]> {
    const recs = await Promise.all(this.results.map((r) => r.state()))
    return recs
  }

  /** Whether every member succeeded. */
  async successful(): Promise<boolean> {
    return (await this.states()).every((s) => s === 'SUCCESS')
  }

  toJSON(): { id: string; results: string[] } {
    return { id: this.id, results: this.results.map((r) => r.id) }
  }
}
