/**
 * The producer side of unique jobs and debouncing, called by `app.send` for tasks that declare
 * either. Each call costs one more coordination round trip (per call, not per batch).
 *
 * - unique: the key is claimed (`putIfAbsent`, value the new job's id, for `ttl`) before the job
 *   is published; when it is already held, nothing is published and the holder's AsyncResult is
 *   returned. The worker gives the key back once the job finished (success, failure, revoked).
 * - debounce: every send publishes its job `delay` later and then records its id as the latest of
 *   the key; a worker runs a job only while it is the latest, and marks the others REVOKED.
 */
import type { PublishOptions } from '../contracts/broker.js'
import type { Coordination } from '../contracts/coordination.js'
import type { App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import type { FlowKey } from '../core/flow-options.js'
import { uuidv7 } from '../core/ids.js'
import type { AsyncResult } from '../core/result.js'
import type { SendDefaults, SendOptions } from '../core/task.js'
import { DEBOUNCE_HEADER, DEBOUNCE_SPACE, UNIQUE_HEADER, UNIQUE_SPACE } from './headers.js'

type Call = { args: unknown[]; options?: SendOptions }

/** A debounce record outlives its window by this much, so a job delayed in the queue still finds it. */
const DEBOUNCE_GRACE_MS = 3_600_000

function keyOf(task: string, key: FlowKey<unknown[]>, args: unknown[], what: string): string {
  let k: unknown
  try {
    k = typeof key === 'function' ? key(...args) : key
  } catch (err) {
    throw new ConfigError(`task "${task}": ${what} threw: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    })
  }
  if (typeof k !== 'string' && typeof k !== 'number')
    throw new ConfigError(`task "${task}": ${what} must give a string, got ${typeof k}`)
  return `${task}:${k}`
}

async function coordinationOf(app: App, task: string): Promise<Coordination> {
  const c = await app.coordination()
  if (!c)
    throw new ConfigError(
      `task "${task}" uses unique or debounce, which needs a coordination part (a sqlite, redis or postgres broker or result backend)`,
    )
  return c
}

export async function sendWithFlow<R>(
  app: App,
  task: string,
  calls: readonly Call[],
  defaults: SendDefaults,
  publishOptions?: PublishOptions,
): Promise<AsyncResult<R>[]> {
  if (calls.some((c) => c.options?.transaction !== undefined) || publishOptions?.transaction !== undefined)
    throw new ConfigError(
      `task "${task}" uses unique or debounce, which cannot join your transaction: send it after the commit`,
    )
  const plain: SendDefaults = { ...defaults, unique: undefined, debounce: undefined }
  const coordination = await coordinationOf(app, task)
  const settings = app.getTask(task)?.settings.flow
  const out: (AsyncResult<R> | undefined)[] = new Array(calls.length)
  const toSend: { i: number; call: Call; claim?: { key: string; id: string } }[] = []
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i]!
    const id = call.options?.id ?? uuidv7()
    if (defaults.unique) {
      const key = keyOf(task, defaults.unique.key, call.args, 'unique.key')
      const ttlMs = settings?.uniqueTtlMs ?? undefined
      const holder = await coordination.putIfAbsent(UNIQUE_SPACE, { key, value: id, ttlMs })
      if (holder !== null) {
        out[i] = app.asyncResult<R>(holder)
        continue
      }
      const headers = { ...call.options?.headers, [UNIQUE_HEADER]: key }
      toSend.push({
        i,
        call: { args: call.args, options: { ...call.options, id, headers } },
        claim: { key, id },
      })
    } else if (defaults.debounce) {
      const key = keyOf(task, defaults.debounce.key, call.args, 'debounce.key')
      const headers = { ...call.options?.headers, [DEBOUNCE_HEADER]: key }
      // The window: the job waits `delay` unless the caller chose its own start.
      const own = call.options?.eta !== undefined || call.options?.countdown !== undefined
      const options: SendOptions = own
        ? { ...call.options, id, headers }
        : { ...call.options, id, headers, countdown: settings?.debounceMs ?? 0 }
      toSend.push({ i, call: { args: call.args, options }, claim: { key, id } })
    } else toSend.push({ i, call })
  }
  if (toSend.length) {
    let sent: AsyncResult<R>[]
    try {
      sent = await app.send<R>(
        task,
        toSend.map((s) => s.call),
        plain,
        publishOptions,
      )
    } catch (err) {
      // Nothing was published: the keys claimed for these calls are given back.
      if (defaults.unique)
        await Promise.all(
          toSend.map((s) =>
            s.claim
              ? coordination.remove(UNIQUE_SPACE, [s.claim.key], { ifValue: s.claim.id }).catch(() => 0)
              : 0,
          ),
        )
      throw err
    }
    toSend.forEach((s, j) => (out[s.i] = sent[j]))
    if (defaults.debounce) {
      const ttlMs = (settings?.debounceMs ?? 0) + DEBOUNCE_GRACE_MS
      // In send order, so the last call of a batch is the latest.
      await coordination.put(
        DEBOUNCE_SPACE,
        toSend.filter((s) => s.claim).map((s) => ({ key: s.claim!.key, value: s.claim!.id, ttlMs })),
      )
    }
  }
  return out as AsyncResult<R>[]
}
