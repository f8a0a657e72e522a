/**
 * Signatures: a task call written down to be sent later, as a step of a chain, a member of a
 * group or chord, or a callback. `task.s(...)` and `task.si(...)` make them.
 *
 * A signature's type says what it gives (`R`, the task's result) and what it takes from a step
 * before it (`In`): `[]` when its arguments are complete, `[X]` when the previous result, of
 * type X, goes before its arguments. An immutable signature (`si`) takes anything and ignores it.
 * That is what lets `chain()` check at compile time that each step accepts the result before it.
 */
import type { Duration } from './duration.js'
import type { SigWire, TaskFailure } from './flow.js'

/** What `s()` and `si()` keep besides the arguments. */
export interface SignatureOptions {
  readonly queue?: string
  readonly priority?: number
  readonly countdown?: Duration
}

/**
 * A task call not yet sent.
 *
 * @example
 * const step = mul.s(4)                 // Signature<number, [number]>: takes the previous result
 * const whole = add.s(2, 2)             // Signature<number, []>
 * const r = await chain(whole, step).apply()   // AsyncResult<number>
 */
export class Signature<R = unknown, In extends unknown[] = unknown[]> {
  /**
   * Phantom (types only): the result, and the input as a parameter so that a signature fits
   * where a given input is expected exactly when it accepts that input.
   */
  declare readonly __types?: { readonly result: R; readonly input: (input: In) => void }

  constructor(
    readonly task: string,
    readonly args: readonly unknown[],
    readonly immutable: boolean,
    readonly options: SignatureOptions = {},
    /** Sent with this task's result when it succeeds. */
    readonly callbacks: readonly AnySignature[] = [],
    /** Sent with a TaskFailure when this task fails for good. */
    readonly errbacks: readonly AnySignature[] = [],
    /** The app of the task (what `chain(...).apply()` sends with); null for a bare signature. */
    readonly app: object | null = null,
  ) {}

  private with(
    callbacks: readonly AnySignature[],
    errbacks: readonly AnySignature[],
    options = this.options,
  ) {
    return new Signature<R, In>(this.task, this.args, this.immutable, options, callbacks, errbacks, this.app)
  }

  /** The same call with other options (queue, priority). */
  set(options: SignatureOptions): Signature<R, In> {
    return this.with(this.callbacks, this.errbacks, { ...this.options, ...options })
  }

  /**
   * The same call with a callback sent with its result when it succeeds (Celery's `link`). The
   * callback must take this result: `add.s(1, 2).link(mul.s(10))`.
   */
  link(callback: Signature<unknown, [R]>): Signature<R, In> {
    return this.with([...this.callbacks, callback as AnySignature], this.errbacks)
  }

  /**
   * The same call with a callback sent once when it fails for good (Celery's `link_error`); the
   * callback takes a TaskFailure first: `{ id, task, error: { name, message } }`.
   */
  linkError(callback: Signature<unknown, [TaskFailure]>): Signature<R, In> {
    return this.with(this.callbacks, [...this.errbacks, callback as AnySignature])
  }

  /** @internal The wire form under the given id; callbacks get `<id>.link.<i>`, `<id>.err.<i>`. */
  toWire(id: string, withCallbacks = true): SigWire {
    const wire: SigWire = {
      id,
      task: this.task,
      args: [...this.args],
      ...(this.immutable ? { immutable: true as const } : {}),
      ...(this.options.queue !== undefined ? { queue: this.options.queue } : {}),
      ...(this.options.priority !== undefined ? { priority: this.options.priority } : {}),
    }
    if (!withCallbacks) return wire
    return {
      ...wire,
      ...(this.callbacks.length ? { callbacks: callbackWires(this.callbacks, id, 'link') } : {}),
      ...(this.errbacks.length ? { errbacks: callbackWires(this.errbacks, id, 'err') } : {}),
    }
  }
}

/** Wire forms of callbacks of the task `id`. */
export function callbackWires(
  callbacks: readonly AnySignature[],
  id: string,
  kind: 'link' | 'err',
): SigWire[] {
  return callbacks.map((c, i) => c.toWire(`${id}.${kind}.${i}`, false))
}

/** The input a signature takes from a step before it. */
export type InputOf<S> = S extends Signature<infer _R, infer In> ? In : never

/** Shown in a compile error: a signature that takes this value was expected. */
export interface TakesResult<R> {
  readonly 'expected a signature that takes': R
}

/** A signature of any result and input. */
export type AnySignature = Signature<unknown, never>

/** The result type of a signature. */
export type SignatureResult<S> = S extends Signature<infer R, infer _In> ? R : never

/** What the argument tuple looks like without its first element. */
export type Tail<A extends unknown[]> = A extends [unknown?, ...infer T] ? T : never
