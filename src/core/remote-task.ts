/**
 * A task that runs elsewhere (a Python Celery worker, another service) and that this program
 * only sends by name: typed by its declaration, with no function here.
 *
 * @example
 * const add = app.remoteTask<[number, number], number>('proj.tasks.add')
 * const sum = await (await add.delay(2, 3)).get()   // number
 */
import type { AsyncResult } from './result.js'
import { Signature, type Tail } from './signature.js'
import type { SendOptions } from './task.js'

export interface RemoteSender {
  sendTask<R>(name: string, args: unknown[], options?: SendOptions): Promise<AsyncResult<R>>
}

export class RemoteTask<A extends unknown[], R> {
  constructor(
    readonly name: string,
    private readonly sender: RemoteSender,
  ) {}

  /**
   * A signature of this task, for a chain step or a `link` / `linkError` callback: with all the
   * arguments it takes no input; without the first, the step before it supplies that one.
   */
  s(...args: A): Signature<R, []>
  s(...args: Tail<A>): Signature<R, [A[0]]>
  s(...args: unknown[]): Signature<R, unknown[]> {
    return new Signature<R, unknown[]>(this.name, args, false, {}, [], [], this.sender)
  }

  /** An immutable signature: it ignores the result of a step before it. */
  si(...args: A): Signature<R, [unknown?]> {
    return new Signature<R, [unknown?]>(this.name, args, true, {}, [], [], this.sender)
  }

  /** Sends the task with these arguments. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.sender.sendTask<R>(this.name, args)
  }

  /** Sends the task with options (countdown, eta, expires, queue, kwargs, …). */
  applyAsync(args: A, options?: SendOptions): Promise<AsyncResult<R>> {
    return this.sender.sendTask<R>(this.name, args, options)
  }
}
