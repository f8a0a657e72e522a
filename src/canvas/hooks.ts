/**
 * What the worker calls into for workflows and durable steps, in one place: the worker's own
 * files only hold the calls.
 */
import type { ResultStore } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { hasFlow } from '../core/flow.js'
import { decodeMessage, type Message } from '../core/message.js'
import { FlowRuntime, errorInfo, type FollowUp, type FlowLog } from './runtime.js'
import { stepper, type StepFn } from './steps.js'
import type { Delivery } from '../contracts/broker.js'

/** The parts of an outcome the hooks read (the worker's Outcome fits). */
interface OutcomeLike {
  readonly kind: 'ack' | 'retry' | 'dead' | 'defer'
  readonly delivery: Delivery
  readonly reason?: string
  readonly result?: { readonly state: string }
}

export class WorkerFlow {
  readonly runtime: FlowRuntime

  constructor(
    private readonly app: App,
    private readonly store: ResultStore | null,
    private readonly worker: string,
    log: FlowLog,
  ) {
    this.runtime = new FlowRuntime({ app, store, worker, log })
  }

  /** `ctx.step` for one run. */
  steps(msg: Message, delivery: Delivery): StepFn {
    const keepMs = this.app.getTask(msg.task)?.settings.resultExpiresMs ?? this.app.resultExpiresMs
    return stepper({ store: this.store, worker: this.worker, keepMs }, msg, delivery)
  }

  /** A workflow-sent message already run to the end: its follow-up, without running it again. */
  finished(msg: Message): Promise<FollowUp | null> {
    return this.runtime.finished(msg)
  }

  /**
   * The follow-up an outcome leaves: success (with the value the task returned) or a final
   * failure; none for a retry or outside workflows. `msg` is null when the run never got that
   * far (then the body is decoded again, only for a dead-lettered delivery).
   */
  followUp(
    outcome: OutcomeLike,
    msg: Message | null,
    run?: { ok: true; value: unknown } | { ok: false; error: unknown },
  ): FollowUp | undefined {
    if (outcome.kind === 'retry' || outcome.kind === 'defer') return undefined
    const failed = outcome.kind === 'dead' || outcome.result?.state === 'REVOKED'
    if (!failed && outcome.result?.state !== 'SUCCESS') return undefined
    if (!msg) {
      if (!failed) return undefined
      try {
        msg = decodeMessage(outcome.delivery.body)
      } catch {
        return undefined
      }
    }
    if (!hasFlow(msg)) return undefined
    if (!failed && run?.ok) return { kind: 'success', msg, value: run.value }
    const error =
      run && !run.ok && outcome.kind === 'dead'
        ? errorInfo(run.error)
        : {
            name: outcome.result?.state === 'REVOKED' ? 'TaskRevokedError' : 'TaskFailedError',
            message: outcome.reason ?? 'failed',
          }
    return { kind: 'failure', msg, error }
  }
}

export type { FollowUp }
