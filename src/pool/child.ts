/**
 * The entry of a pool child (a worker thread or a forked process). It loads the app module the
 * worker was started with (`-A`), then runs the bodies of the jobs it is sent, one at a time,
 * with the same `runTask` an async slot uses. The hard time limit is the parent's business: it
 * kills this child. The soft limit, `ctx.signal`, `ctx.retry()` and `ctx.log` work here as they
 * do in an async slot; `ctx.progress()` and `ctx.step()` go to the worker, which writes progress
 * and records durable steps (a step's body runs here, between the worker's lookup and record).
 */
import { getHeapStatistics } from 'node:v8'
import { parentPort } from 'node:worker_threads'
import { appFromFlags } from '../cli/load.js'
import type { Delivery } from '../contracts/broker.js'
import type { App } from '../core/app.js'
import { decode, encode } from '../core/codec.js'
import { ConfigError, EncodeError, RetryRequest, UnknownTaskError } from '../core/errors.js'
import type { Message } from '../core/message.js'
import type { TaskContext } from '../core/task.js'
import { shouldRetry } from '../core/retry.js'
import { createLogger, type Logger } from '../worker/logger.js'
import type { AnyTask } from '../worker/prepare.js'
import { encodeError } from '../worker/records.js'
import { runTask, type RunEnv } from '../worker/run.js'
import type {
  DoneMessage,
  FromChild,
  InitMessage,
  RunMessage,
  StepDoneMessage,
  StepRunMessage,
  ToChild,
} from './protocol.js'

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

/** A `ctx.step` call waiting for the worker, by its number. */
interface PendingStep {
  readonly seq: number
  readonly name: string
  readonly task: string
  readonly fn: () => unknown
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
  /** The body ran here: what it returned or threw, given back as is rather than decoded. */
  ran?: { ok: true; value: unknown } | { ok: false; error: unknown }
}
const steps = new Map<number, PendingStep>()
let stepReq = 0

/** `ctx.step` of run `seq`: the worker looks the step up and records it. */
function stepper(seq: number, task: string): TaskContext['step'] {
  return <T>(name: string, fn: () => T | Promise<T>) =>
    new Promise<Awaited<T>>((resolve, reject) => {
      if (typeof fn !== 'function')
        throw new ConfigError(`ctx.step("${name}") needs a function to run (task "${task}")`)
      const req = ++stepReq
      const label = typeof name === 'string' ? name : ''
      steps.set(req, { seq, name: label, task, fn, resolve: resolve as (v: unknown) => void, reject })
      send({ t: 'step', seq, req, name: label })
    })
}

async function runStep(msg: StepRunMessage): Promise<void> {
  const step = steps.get(msg.req)
  if (!step) return
  try {
    const value = await step.fn()
    step.ran = { ok: true, value }
    send({ t: 'step-ran', seq: msg.seq, req: msg.req, ok: true, value: encode(value ?? null) })
  } catch (err) {
    const error = step.ran?.ok
      ? new EncodeError(
          `ctx.step("${step.name}") of task "${step.task}" returned a value that cannot be recorded: ${(err as Error).message}`,
          { cause: err },
        )
      : err
    step.ran = { ok: false, error }
    send({ t: 'step-ran', seq: msg.seq, req: msg.req, ok: false })
  }
}

function stepDone(msg: StepDoneMessage): void {
  const step = steps.get(msg.req)
  if (!step) return
  steps.delete(msg.req)
  try {
    if (msg.ok) step.resolve(step.ran?.ok ? step.ran.value : decode(msg.value ?? 'null'))
    else step.reject(step.ran && !step.ran.ok ? step.ran.error : decode(msg.error ?? 'null'))
  } catch (err) {
    step.reject(err)
  }
}

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
  const aborts = new Set<{ abort(reason: unknown): void }>()
  running.set(msg.seq, (reason) => {
    for (const run of aborts) run.abort(reason)
  })
  const r = await runTask(
    {
      ...env!,
      aborts,
      progress: (_job, value) => send({ t: 'progress', seq: msg.seq, value }),
      steps: () => stepper(msg.seq, m.task),
    },
    job,
  )
  running.delete(msg.seq)
  for (const [req, step] of steps) if (step.seq === msg.seq) steps.delete(req)
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
  else if (msg.t === 'step-run') void runStep(msg)
  else if (msg.t === 'step-done') stepDone(msg)
})
