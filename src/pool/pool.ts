/**
 * A pool of worker threads or child processes that run task bodies (the `run` third of a
 * delivery) for one worker. Each child loads the app module itself and runs one job at a time.
 * The pool, not the child, owns the hard time limit: a child past it is killed and replaced.
 * So is a child that exits or crashes mid-task (the job gets a WorkerLostError, retried by its
 * task's policy), one that ran `maxTasksPerChild` jobs, or one past `maxMemoryPerChildMb`.
 * A run is tracked as the worker tracks its own (inspect active, revoke), and what its child
 * says while it runs (`ctx.progress`, `ctx.step`) is passed to the worker's hooks.
 */
import type { AppConnections } from '../core/app.js'
import { decode, encode } from '../core/codec.js'
import {
  ConfigError,
  EncodeError,
  RetryRequest,
  TimeLimitExceededError,
  WorkerLostError,
} from '../core/errors.js'
import type { Logger } from '../worker/logger.js'
import type { PreparedJob } from '../worker/prepare.js'
import { encodeError } from '../worker/records.js'
import { limitsOf, type RunEnv, type RunResult, type TaskRunner, type TrackedRun } from '../worker/run.js'
import type { TaskContext } from '../core/task.js'
import { spawnChild, type ChildHandle, type PoolKind } from './handle.js'
import type {
  DoneMessage,
  ProgressMessage,
  StepDoneMessage,
  StepMessage,
  StepRanMessage,
} from './protocol.js'

/** What a step body that threw in the child is, to the worker's stepper (the child keeps the error). */
const STEP_BODY_FAILED = new Error('the step body failed in the pool child')

export interface PoolOptions {
  readonly kind: PoolKind
  /** Children kept running (the worker's concurrency). */
  readonly size: number
  /** The app module as `-A` names it; every child loads it. */
  readonly app: string
  /** URLs the worker's app was pointed at (`-b`, `--result-backend`), so sends from tasks agree. */
  readonly connections?: AppConnections
  /** Replace a child after it ran this many tasks (Celery's --max-tasks-per-child). */
  readonly maxTasksPerChild?: number
  /**
   * Replace a child whose memory after a task exceeds this many MB (Celery's
   * --max-memory-per-child): resident set size of a process, V8 heap in use of a thread.
   */
  readonly maxMemoryPerChildMb?: number
  /** The worker's logger; children log with the same level and `childLogFormat`. */
  readonly log: Logger
  readonly childLogFormat?: 'json' | 'pretty'
  /** How long a child may take to load the app before it is killed (default 60s). */
  readonly startTimeoutMs?: number
}

/** What `children()` tells about one child. */
export interface PoolChildInfo {
  readonly pid: number
  readonly threadId: number | null
  /** Tasks it finished. */
  readonly tasks: number
  /** The task id it is running, or null. */
  readonly job: string | null
}

interface Run {
  readonly seq: number
  readonly job: PreparedJob
  readonly env: RunEnv
  readonly resolve: (r: RunResult) => void
  child: Child | null
  /** When it was handed to a child (the hard limit counts from here). */
  startedAt: number
  timer?: NodeJS.Timeout
  /** How the worker tracks and stops the run while a child has it. */
  tracked?: TrackedRun
  /** The run's durable steps, made on its first `ctx.step`. */
  step?: TaskContext['step']
  /** Step bodies asked of the child, by its request number. */
  readonly bodies: Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>
}

interface Child {
  readonly handle: ChildHandle
  state: 'starting' | 'idle' | 'busy' | 'retiring'
  /** It loaded the app and said so. */
  ready: boolean
  tasks: number
  run: Run | null
}

export class Pool implements TaskRunner {
  readonly kind: PoolKind
  private target: number
  private readonly members = new Set<Child>()
  private readonly queue: Run[] = []
  private seq = 0
  private closing = false
  /** Children that died before they were ready, in a row: spaces out respawns. */
  private failures = 0
  private readonly gone = new Set<() => void>()
  private readonly startTimeoutMs: number

  constructor(private readonly options: PoolOptions) {
    this.kind = options.kind
    this.target = options.size
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000
    for (const [name, v] of [
      ['size', options.size],
      ['maxTasksPerChild', options.maxTasksPerChild],
      ['maxMemoryPerChildMb', options.maxMemoryPerChildMb],
    ] as const)
      if (v !== undefined && (!Number.isInteger(v) || v < 1))
        throw new ConfigError(`pool ${name} must be a positive integer, got ${v}`)
  }

  /** Children the pool keeps (grows and shrinks with `grow`/`shrink`). */
  get size(): number {
    return this.target
  }

  /** Starts every child; rejects, naming why, if a child cannot load the app module. */
  async start(): Promise<void> {
    const starting = Array.from({ length: this.target }, () => this.spawn())
    const failed = (await Promise.all(starting)).find((e) => e !== null)
    if (failed) {
      await this.close()
      throw new ConfigError(`the ${this.kind} pool could not start a child: ${failed}`)
    }
  }

  run(env: RunEnv, job: PreparedJob): Promise<RunResult> {
    return new Promise((resolve) => {
      const run: Run = {
        seq: ++this.seq,
        job,
        env,
        resolve,
        child: null,
        startedAt: Date.now(),
        bodies: new Map(),
      }
      if (this.closing) return this.finish(run, this.lost(run, 'the pool is closed'))
      this.queue.push(run)
      this.dispatch()
    })
  }

  /**
   * Kills the child running task `id` and replaces it; the run ends with `reason` (default a
   * WorkerLostError), never retried. A queued run is dropped the same way. False if the pool
   * holds no run of that id. For `revoke --terminate`.
   */
  terminate(id: string, reason?: unknown): boolean {
    const queued = this.queue.findIndex((r) => r.job.msg.id === id)
    if (queued >= 0) {
      const [run] = this.queue.splice(queued, 1)
      this.finish(run!, { ...this.lost(run!, 'terminated on request', reason), retryable: false })
      return true
    }
    for (const child of this.members)
      if (child.run?.job.msg.id === id) {
        const run = child.run
        this.kill(child)
        this.finish(run, { ...this.lost(run, 'terminated on request', reason), retryable: false })
        return true
      }
    return false
  }

  /** Adds `n` children; returns the new size. */
  grow(n = 1): number {
    this.checkCount(n)
    this.target += n
    this.replenish()
    return this.target
  }

  /** Retires `n` children (idle ones at once, busy ones after their task), keeping at least one. */
  shrink(n = 1): number {
    this.checkCount(n)
    this.target = Math.max(1, this.target - n)
    for (const child of this.members)
      if (this.live() > this.target && (child.state === 'idle' || child.state === 'starting'))
        this.retire(child)
    return this.target
  }

  children(): PoolChildInfo[] {
    return [...this.members]
      .filter((c) => c.state !== 'retiring')
      .map((c) => ({
        pid: c.handle.pid,
        threadId: c.handle.threadId,
        tasks: c.tasks,
        job: c.run?.job.msg.id ?? null,
      }))
  }

  /** Ends every child; runs still held end with a WorkerLostError (the worker drops them). */
  async close(): Promise<void> {
    this.closing = true
    for (const run of this.queue.splice(0)) this.finish(run, this.lost(run, 'the pool is closed'))
    const exits = [...this.members].map(
      (child) =>
        new Promise<void>((resolve) => {
          this.gone.add(resolve)
          if (child.run) this.finish(child.run, this.lost(child.run, 'the pool is closed'))
          this.retire(child)
        }),
    )
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000).unref())])
  }

  private checkCount(n: number): void {
    if (!Number.isInteger(n) || n < 1)
      throw new ConfigError(`pool grow/shrink takes a positive integer, got ${n}`)
  }

  private live(): number {
    let n = 0
    for (const c of this.members) if (c.state !== 'retiring') n++
    return n
  }

  /** Starts one child; resolves null once it is ready, or the reason it could not start. */
  private spawn(): Promise<string | null> {
    const handle = spawnChild(this.kind)
    const child: Child = { handle, state: 'starting', ready: false, tasks: 0, run: null }
    this.members.add(child)
    const { log } = this.options
    return new Promise((resolve) => {
      const startTimer = setTimeout(() => {
        resolve(`the child did not load the app within ${this.startTimeoutMs} ms`)
        this.kill(child)
      }, this.startTimeoutMs)
      startTimer.unref()
      handle.onMessage((msg) => {
        if (msg.t === 'ready') {
          clearTimeout(startTimer)
          this.failures = 0
          child.ready = true
          if (child.state === 'starting') child.state = 'idle'
          resolve(null)
          this.dispatch()
        } else if (msg.t === 'load-failed') {
          clearTimeout(startTimer)
          log.error({ pool: this.kind, err: msg.error }, 'a pool child could not load the app module')
          resolve(msg.error)
          this.kill(child)
        } else if (msg.t === 'done') this.done(child, msg)
        else this.said(child, msg)
      })
      handle.onExit((how) => {
        clearTimeout(startTimer)
        resolve(how)
        this.exited(child, how)
      })
      handle.send({
        t: 'init',
        app: this.options.app,
        connections: this.options.connections ?? {},
        log: { level: log.level, format: this.options.childLogFormat },
      })
    })
  }

  private exited(child: Child, how: string): void {
    this.members.delete(child)
    const run = child.run
    child.run = null
    if (run) {
      this.options.log.error(
        { pool: this.kind, id: run.job.msg.id, task: run.job.msg.task, how },
        'pool child died running a task; replacing it',
      )
      this.finish(run, this.lost(run, how))
    }
    if (!child.ready) this.failures++
    for (const resolve of this.gone) if (this.members.size === 0) resolve()
    this.replenish()
  }

  /** Spawns children up to the target, spaced out while children keep dying before ready. */
  private replenish(): void {
    if (this.closing) return
    const missing = this.target - this.live()
    if (missing <= 0) return
    const delay = this.failures ? Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7)) : 0
    const go = () => {
      if (this.closing) return
      for (let i = this.target - this.live(); i > 0; i--) void this.spawn()
    }
    if (delay) setTimeout(go, delay).unref()
    else go()
  }

  private dispatch(): void {
    for (const child of this.members) {
      if (!this.queue.length) return
      if (child.state !== 'idle') continue
      this.assign(child, this.queue.shift()!)
    }
  }

  private assign(child: Child, run: Run): void {
    child.state = 'busy'
    child.run = run
    run.child = child
    run.startedAt = Date.now()
    const { delivery, msg, args } = run.job
    const { body: _body, message: _message, ...d } = delivery
    let job: string
    try {
      job = encode({ d, m: msg, a: args })
    } catch (err) {
      child.state = 'idle'
      child.run = null
      const error = new EncodeError(`arguments cannot cross to the pool: ${(err as Error).message}`)
      return this.finish(run, { ok: false, error, startedAt: Date.now(), retryable: false })
    }
    child.handle.send({ t: 'run', seq: run.seq, job })
    const abort = (reason: unknown) =>
      child.handle.send({ t: 'abort', seq: run.seq, reason: encodeError(reason) })
    run.tracked = {
      job: run.job,
      startedAt: run.startedAt,
      stop: { abort, kill: (reason) => void this.terminate(msg.id, reason) },
    }
    run.env.aborts.add(run.tracked.stop)
    run.env.track?.(run.tracked)
    const { hardMs } = limitsOf(run.job)
    if (hardMs !== null)
      run.timer = setTimeout(() => {
        if (child.run !== run) return
        this.options.log.warn(
          { pool: this.kind, id: msg.id, task: msg.task, limitMs: hardMs },
          'hard time limit: killing the pool child running the task',
        )
        this.kill(child)
        const error = new TimeLimitExceededError(msg.task, hardMs)
        this.finish(run, { ok: false, error, startedAt: run.startedAt })
      }, hardMs)
  }

  private done(child: Child, msg: DoneMessage): void {
    const run = child.run
    if (!run || run.seq !== msg.seq) return
    child.run = null
    child.tasks++
    let result: RunResult
    try {
      result = this.result(run, msg)
    } catch (err) {
      this.kill(child)
      return this.finish(run, this.lost(run, `unreadable reply: ${(err as Error).message}`))
    }
    this.finish(run, result)
    const { maxTasksPerChild: maxTasks, maxMemoryPerChildMb: maxMb, log } = this.options
    if (maxTasks !== undefined && child.tasks >= maxTasks) {
      log.debug({ pool: this.kind, tasks: child.tasks }, 'pool child reached max tasks; replacing it')
      this.retire(child)
    } else if (maxMb !== undefined && msg.memoryMb > maxMb) {
      log.info(
        { pool: this.kind, memoryMb: Math.round(msg.memoryMb), limitMb: maxMb },
        'pool child over its memory limit; replacing it',
      )
      this.retire(child)
    } else if (this.live() > this.target) this.retire(child)
    else {
      child.state = 'idle'
      this.dispatch()
    }
  }

  /** What a running task's child says before it is done: progress, and durable steps. */
  private said(child: Child, msg: ProgressMessage | StepMessage | StepRanMessage): void {
    const run = child.run
    if (!run || run.seq !== msg.seq) return
    if (msg.t === 'progress') run.env.progress?.(run.job, msg.value, run.startedAt)
    else if (msg.t === 'step') this.step(child, run, msg)
    else {
      const body = run.bodies.get(msg.req)
      if (!body) return
      run.bodies.delete(msg.req)
      if (!msg.ok) return body.reject(STEP_BODY_FAILED)
      try {
        body.resolve(decode(msg.value ?? 'null'))
      } catch (err) {
        body.reject(err)
      }
    }
  }

  /**
   * A `ctx.step` in the child: the worker's stepper looks it up and records it; its body, if it
   * must run, is asked of the child. The answer goes back to the child while the run is its.
   */
  private step(child: Child, run: Run, msg: StepMessage): void {
    const reply = (m: Pick<StepDoneMessage, 'ok' | 'value' | 'error'>) => {
      if (child.run === run) child.handle.send({ t: 'step-done', seq: run.seq, req: msg.req, ...m })
    }
    const failed = (err: unknown) => reply({ ok: false, error: encodeError(err) })
    if (!run.env.steps) return failed(new ConfigError('this worker has no durable steps'))
    run.step ??= run.env.steps(run.job)
    const body = () =>
      new Promise<unknown>((resolve, reject) => {
        if (child.run !== run) return reject(new Error('the run ended'))
        run.bodies.set(msg.req, { resolve, reject })
        child.handle.send({ t: 'step-run', seq: run.seq, req: msg.req })
      })
    run.step(msg.name, body).then((value) => {
      let encoded: string
      try {
        encoded = encode(value ?? null)
      } catch (err) {
        return failed(err)
      }
      reply({ ok: true, value: encoded })
    }, failed)
  }

  private result(run: Run, msg: DoneMessage): RunResult {
    const { startedAt } = msg
    if (msg.ok) {
      if (msg.unencodable !== undefined) {
        const error = new EncodeError(
          `task "${run.job.msg.task}" returned a value that cannot be stored: ${msg.unencodable}`,
        )
        return { ok: false, error, startedAt, retryable: false }
      }
      return { ok: true, value: decode(msg.value ?? 'null'), startedAt }
    }
    const error = msg.error !== undefined ? decode(msg.error) : undefined
    if (msg.retry)
      return { ok: false, error: new RetryRequest(msg.retry.countdownMs, error, msg.retry.max), startedAt }
    return { ok: false, error, startedAt, retryable: msg.retryable }
  }

  private lost(run: Run, how: string, reason?: unknown): RunResult & { ok: false } {
    const error = reason ?? new WorkerLostError(run.job.msg.task, how)
    return { ok: false, error, startedAt: run.startedAt }
  }

  private finish(run: Run, result: RunResult): void {
    clearTimeout(run.timer)
    if (run.tracked) {
      run.env.aborts.delete(run.tracked.stop)
      run.env.untrack?.(run.tracked)
      run.tracked = undefined
    }
    for (const body of run.bodies.values()) body.reject(new Error('the run ended'))
    run.bodies.clear()
    if (run.child?.run === run) run.child.run = null
    run.resolve(result)
  }

  /** Asks a child to leave after its task; it is replaced if the pool is short. */
  private retire(child: Child): void {
    if (child.state === 'retiring') return
    child.state = 'retiring'
    child.handle.send({ t: 'exit' })
    setTimeout(() => child.handle.kill(), 2000).unref()
    this.replenish()
  }

  private kill(child: Child): void {
    child.state = 'retiring'
    child.run = null
    child.handle.kill()
    this.replenish()
  }
}

/**
 * A thread or process pool for `new Worker(app, { pool })`.
 *
 * @example
 * const pool = createPool({ kind: 'threads', size: 4, app: './tasks.ts', log: createLogger() })
 * const worker = new Worker(app, { concurrency: 4, pool })
 */
export function createPool(options: PoolOptions): Pool {
  return new Pool(options)
}
