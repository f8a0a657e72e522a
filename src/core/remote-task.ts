/**
 * A task that runs elsewhere (a Python Celery worker, another service) and that this program
 * only sends by name: typed by its declaration, with no function here.
 *
 * @example
 * const add = app.remoteTask<[number, number], number>('proj.tasks.add')
 * const sum = await (await add.delay(2, 3)).get()   // number
 */
import type { AsyncResult } from './result.js'
import type { SendOptions } from './task.js'

export interface RemoteSender {
  sendTask<R>(name: string, args: unknown[], options?: SendOptions): Promise<AsyncResult<R>>
}

export class RemoteTask<A extends unknown[], R> {
  constructor(
    readonly name: string,
    private readonly sender: RemoteSender,
  ) {}

  /** Sends the task with these arguments. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.sender.sendTask<R>(this.name, args)
  }

  /** Sends the task with options (countdown, eta, expires, queue, kwargs, …). */
  applyAsync(args: A, options?: SendOptions): Promise<AsyncResult<R>> {
    return this.sender.sendTask<R>(this.name, args, options)
  }
}
