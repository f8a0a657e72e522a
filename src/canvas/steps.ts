/**
 * Durable steps (`ctx.step`): each finished step's result is a record in the result store under
 * `<task id>.step.<name>`, written with the delivery's fence before the step returns. A later run
 * of the same task (a retry, or a redelivery after the worker died) reads the record and returns
 * the value instead of running the step again. A run whose lease was lost writes with a lower
 * fence than the run that took over, so the store keeps the newer run's records.
 *
 * Records stay until the task's result expires: a run that finished but died before its
 * acknowledgement is delivered again, and must find every step recorded.
 */
import type { Delivery } from '../contracts/broker.js'
import type { ResultStore } from '../contracts/result-store.js'
import { decode, encode } from '../core/codec.js'
import { ConfigError, EncodeError } from '../core/errors.js'
import type { Message } from '../core/message.js'

/** The id of the record of step `name` of task `taskId`. */
export function stepRecordId(taskId: string, name: string): string {
  return `${taskId}.step.${name}`
}

export interface StepEnv {
  readonly store: ResultStore | null
  readonly worker: string
  /** How long records are kept (the task's result expiry). */
  readonly keepMs: number
}

export type StepFn = <T>(name: string, fn: () => T | Promise<T>) => Promise<Awaited<T>>

/** The `ctx.step` of one run. */
export function stepper(env: StepEnv, msg: Message, delivery: Delivery): StepFn {
  const used = new Set<string>()
  // A first delivery of a never-retried message cannot find a record: no read for it.
  const mayHaveRun = delivery.deliveries > 1 || msg.retries > 0
  return async <T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>> => {
    if (typeof name !== 'string' || name === '')
      throw new ConfigError(`ctx.step needs a non-empty name (task "${msg.task}")`)
    if (typeof fn !== 'function')
      throw new ConfigError(`ctx.step("${name}") needs a function to run (task "${msg.task}")`)
    if (used.has(name))
      throw new ConfigError(
        `ctx.step("${name}") is called twice in one run of task "${msg.task}"; step names must be unique within a task`,
      )
    used.add(name)
    const store = env.store
    if (!store)
      throw new ConfigError(
        `ctx.step("${name}") needs a result backend to record steps (task "${msg.task}"); set resultBackend`,
      )
    const id = stepRecordId(msg.id, name)
    if (mayHaveRun) {
      const [rec] = await store.get([id])
      if (rec?.state === 'SUCCESS')
        return (rec.result === null ? undefined : decode(rec.result)) as Awaited<T>
    }
    const value = await fn()
    let encoded: string
    try {
      encoded = encode(value ?? null)
    } catch (err) {
      throw new EncodeError(
        `ctx.step("${name}") of task "${msg.task}" returned a value that cannot be recorded: ${(err as Error).message}`,
        { cause: err },
      )
    }
    const now = Date.now()
    await store.set([
      {
        id,
        state: 'SUCCESS',
        task: msg.task,
        result: encoded,
        error: null,
        retries: msg.retries,
        worker: env.worker,
        startedAt: null,
        doneAt: now,
        updatedAt: now,
        expiresAt: env.keepMs > 0 ? now + env.keepMs : null,
        fence: delivery.fence,
      },
    ])
    return value
  }
}
