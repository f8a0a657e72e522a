/**
 * The entry of a pool child (a worker thread or a forked process). It loads the app module the
 * worker was started with (`-A`), then runs the bodies of the jobs it is sent, one at a time,
 * with the same `runTask` an async slot uses. The hard time limit is the parent's business: it
 * kills this child. The soft limit, `ctx.signal`, `ctx.retry()` and `ctx.log` work here as they
 * do in an async slot.
 */
import { getHeapStatistics } from 'node:v8'
import { parentPort } from 'node:worker_threads'
import { appFromFlags } from '../cli/load.js'
import type { Delivery } from '../contracts/broker.js'
import type { App } from '../core/app.js'
import { decode, encode } from '../core/codec.js'
import { RetryRequest, UnknownTaskError } from '../core/errors.js'
import type { Message } from '../core/message.js'
import { shouldRetry } from '../core/retry.js'
import { createLogger, type Logger } from '../worker/logger.js'
import type { AnyTask } from '../worker/prepare.js'
import { encodeError } from '../worker/records.js'
import { runTask, type RunEnv } from '../worker/run.js'
import type { DoneMessage, FromChild, InitMessage, RunMessage, ToChild } from './protocol.js'

const port = parentPort
const send = (msg: FromChild): void => {
  if (port) port.postMessage(msg)
  else process.send?.(msg)
}
const listen = (cb: (msg: ToChild) => void): void => {
  if (port) port.on('message', cb)
  else process.on('message', (m) => cb(m as ToChild))
}
// A forked child whose worker is gone (SIGKILLed) has nobody to answer: it leaves too.
if (!port) process.on('disconnect', () => process.exit(0))

let app: App | null = null
let env: RunEnv | null = null
/** Abort functions by run, for the parent's abort messages. */
const running = new Map<number, (reason: unknown) => void>()

function memoryMb(): number {
  const bytes = port ? getHeapStatistics().used_heap_size : process.memoryUsage.rss()
  return bytes / 2 ** 20
}

async function init(msg: InitMessage): Promise<void> {
  try {
    const loaded = await appFromFlags({
      app: msg.app,
      broker: msg.connections.broker,
      resultBackend: msg.connections.resultBackend === false ? undefined : msg.connections.resultBackend,
    })
    app = loaded.app
  } catch (err) {
    send({ t: 'load-failed', error: err instanceof Error ? err.message : String(err) })
    return
  }
  const log: Logger = createLogger({ level: msg.log.level as 'info', format: msg.log.format })
  env = { log, aborts: new Set(), externalHardLimit: true }
  send({ t: 'ready' })
}

async function run(msg: RunMessage): Promise<void> {
  const { d, m, a } = decode<{ d: Omit<Delivery, 'body'>; m: Message; a: unknown[] }>(msg.job)
  const task = app!.getTask(m.task) as AnyTask | undefined
  if (!task) {
    const error = new UnknownTaskError(m.task, app!.taskNames())
    const now = Date.now()
    send({
      t: 'done',
      seq: msg.seq,
      ok: false,
      startedAt: now,
      error: encodeError(error),
      memoryMb: memoryMb(),
    })
    return
  }
  const job = { delivery: { ...d, body: '' }, msg: m, task, args: a, storeResult: true }
  // Each run its own set of abort functions, so an abort message reaches this run only.
  const aborts = new Set<(reason: unknown) => void>()
  running.set(msg.seq, (reason) => {
    for (const abort of aborts) abort(reason)
  })
  const r = await runTask({ ...env!, aborts }, job)
  running.delete(msg.seq)
  const done: { -readonly [K in keyof DoneMessage]: DoneMessage[K] } = {
    t: 'done',
    seq: msg.seq,
    startedAt: r.startedAt,
    ok: r.ok,
    memoryMb: 0,
  }
  if (r.ok) {
    try {
      done.value = encode(r.value ?? null)
    } catch (err) {
      done.unencodable = (err as Error).message
    }
  } else if (r.error instanceof RetryRequest) {
    done.retry = { countdownMs: r.error.countdownMs, max: r.error.max }
    if (r.error.reason !== undefined) done.error = encodeError(r.error.reason)
  } else {
    done.error = encodeError(r.error)
    try {
      done.retryable = shouldRetry(task.settings.retry, r.error)
    } catch {
      done.retryable = false
    }
  }
  done.memoryMb = memoryMb()
  send(done)
}

listen((msg) => {
  if (msg.t === 'init') void init(msg)
  else if (msg.t === 'run') void run(msg)
  else if (msg.t === 'abort') running.get(msg.seq)?.(decode(msg.reason))
  else if (msg.t === 'exit') process.exit(0)
})
