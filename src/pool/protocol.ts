/**
 * What the worker and a pool child say to each other. Every value that belongs to a task (its
 * message, arguments, result, error) crosses as a string written by the codec, so a child sees
 * what an async slot would see and nothing is evaluated on either side.
 */
import type { AppConnections } from '../core/app.js'

/** Sent once, first: what the child loads and how it logs. */
export interface InitMessage {
  readonly t: 'init'
  /** The app module as `-A` names it: `./tasks.ts`, `./dist/tasks.js`, `path:exportName`. */
  readonly app: string
  /** The URLs the worker's app was pointed at (`-b`, `--result-backend`), for sends from tasks. */
  readonly connections: AppConnections
  readonly log: { readonly level: string; readonly format?: 'json' | 'pretty' }
}

export interface RunMessage {
  readonly t: 'run'
  /** The pool's number for this run (a job may be run again by a later delivery). */
  readonly seq: number
  /** codec: `{ d: delivery without its body, m: message, a: validated arguments }`. */
  readonly job: string
}

/** Aborts the run's `ctx.signal` (soft limit is the child's own; this is shutdown). */
export interface AbortMessage {
  readonly t: 'abort'
  readonly seq: number
  /** codec: the abort reason. */
  readonly reason: string
}

export interface ExitMessage {
  readonly t: 'exit'
}

/** The step asked for has no record: run its body (the child holds the function). */
export interface StepRunMessage {
  readonly t: 'step-run'
  readonly seq: number
  readonly req: number
}

/** How a durable step ended, as the worker recorded it (or replayed it). */
export interface StepDoneMessage {
  readonly t: 'step-done'
  readonly seq: number
  readonly req: number
  readonly ok: boolean
  /** codec: the step's value, when ok. */
  readonly value?: string
  /** codec: why it failed, when not ok. */
  readonly error?: string
}

export type ToChild = InitMessage | RunMessage | AbortMessage | ExitMessage | StepRunMessage | StepDoneMessage

export interface ReadyMessage {
  readonly t: 'ready'
}

export interface LoadFailedMessage {
  readonly t: 'load-failed'
  readonly error: string
}

export interface DoneMessage {
  readonly t: 'done'
  readonly seq: number
  readonly startedAt: number
  readonly ok: boolean
  /** codec: the value returned, when it succeeded. */
  readonly value?: string
  /** codec: the error thrown, when it failed. */
  readonly error?: string
  /** `ctx.retry()` was called: its countdown and max (its reason is `error`). */
  readonly retry?: { readonly countdownMs?: number; readonly max?: number }
  /** The task's `retries.on` verdict on the error, taken here where the error keeps its class. */
  readonly retryable?: boolean
  /** The returned value could not be encoded: the message says why. */
  readonly unencodable?: string
  /** Memory after the run, MB: resident set in a process, the isolate's heap in a thread. */
  readonly memoryMb: number
}

/** `ctx.progress(value)` in the child: the value, checked and encoded there. */
export interface ProgressMessage {
  readonly t: 'progress'
  readonly seq: number
  readonly value: string
}

/**
 * `ctx.step(name, fn)` in the child: the worker records durable steps, so it looks the step up
 * and answers `step-done` at once (a replay), or first asks for the body with `step-run`.
 */
export interface StepMessage {
  readonly t: 'step'
  readonly seq: number
  /** The child's number for this call, echoed in the answers. */
  readonly req: number
  readonly name: string
}

/** The body of a step ran in the child: its value, or that it threw (the error stays there). */
export interface StepRanMessage {
  readonly t: 'step-ran'
  readonly seq: number
  readonly req: number
  readonly ok: boolean
  /** codec: the value the body returned, when ok. */
  readonly value?: string
}

export type FromChild =
  ReadyMessage | LoadFailedMessage | DoneMessage | ProgressMessage | StepMessage | StepRanMessage
