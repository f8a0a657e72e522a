/**
 * Running one delivery in an async slot: prepare (decode, look up, check), run (the body under
 * its limits), conclude (retry policy, records). Never throws: a fault of the worker's own code
 * dead-letters the delivery with the reason rather than killing the process.
 */
import type { Delivery } from '../contracts/broker.js'
import type { FlowHooks } from '../flow/gate.js'
import type { ResultRecord } from '../contracts/result-store.js'
import { conclude, describeError } from './conclude.js'
import { isPrepared, prepare, revokedOutcome, type PreparedJob, type WorkerEnv } from './prepare.js'
import { makeRecord } from './records.js'
import { runTask, type RunEnv, type TaskRunner } from './run.js'
import type { Outcome } from './settle.js'
import type { WorkerFlow } from '../canvas/hooks.js'
import type { Message } from '../core/message.js'
import type { RunResult } from './run.js'
import type { RunWatch, WatchedRun } from './watch.js'

function runBody(env: ExecuteEnv, job: PreparedJob): Promise<RunResult> {
  return env.runner ? env.runner.run(env, job) : runTask(env, job)
}

function withFollowUp(env: ExecuteEnv, outcome: Outcome, msg: Message | null, run?: RunResult): Outcome {
  const followUp = env.flow?.followUp(outcome, msg, run)
  return followUp ? { ...outcome, followUp } : outcome
}

export interface ExecuteEnv extends WorkerEnv, RunEnv {
  /** Records a STARTED state (batched by the worker). */
  readonly started: (record: ResultRecord) => void
  /** Where task bodies run: a thread or process pool; absent, in this event loop. */
  readonly runner?: TaskRunner
  /** Told when the task body has returned; its outcome waits for a promise returned (a progress write in flight). */
  readonly ran?: (job: PreparedJob) => Promise<void> | undefined
  /** Workflows: follow-ups of outcomes, and messages a workflow sent again (canvas/hooks.ts). */
  readonly flow?: WorkerFlow
  /**
   * Whether the delivery may run, asked before anything else (src/dedup: one run per
   * caller-chosen id on brokers without idempotent publish). A delivery that may not is
   * acknowledged with no result written: another delivery of its id runs.
   */
  readonly mayRun?: (delivery: Delivery) => Promise<boolean>
  /** Flow control (src/flow): may hold the job back (deferred) before it runs. */
  readonly gate?: FlowHooks
  /** Per-task metrics and tracing (watch.ts); absent when neither is on. */
  readonly watch?: RunWatch
}

export async function execute(env: ExecuteEnv, delivery: Delivery): Promise<Outcome> {
  let watched: WatchedRun | undefined
  let job: PreparedJob | undefined
  try {
    if (env.mayRun && !(await env.mayRun(delivery))) {
      env.log.info(
        { id: delivery.id, fence: delivery.fence },
        'a second copy of a running or finished id: not run',
      )
      return { kind: 'ack', delivery }
    }
    const prepared = prepare(env, delivery)
    if (!isPrepared(prepared)) return withFollowUp(env, prepared, null)
    const done = prepared.msg.once ? await env.flow?.finished(prepared.msg) : null
    if (done) return { kind: 'ack', delivery, followUp: done }
    const held = env.gate?.admit(env, prepared)
    if (held) {
      const outcome = await held
      if (outcome) return outcome
    }
    if (env.watch) {
      job = prepared
      watched = env.watch.begin(prepared)
    }
    if (prepared.storeResult && (prepared.task.options.trackStarted ?? env.app.trackStarted))
      env.started(makeRecord(env, prepared.msg, delivery, 'STARTED', Date.now(), {}))
    let run: RunResult
    try {
      run = await (watched?.run ? watched.run(runBody, env, prepared) : runBody(env, prepared))
    } finally {
      env.gate?.finished(prepared)
    }
    const ran = env.ran?.(prepared)
    if (ran) await ran
    // Revoked while it ran: REVOKED whatever the body came to, and never retried.
    const outcome = env.revoked?.has(prepared.msg.id)
      ? withFollowUp(
          env,
          revokedOutcome(env, prepared.msg, delivery, run.startedAt, 'revoked while running'),
          prepared.msg,
          run,
        )
      : withFollowUp(env, conclude(env, prepared, run), prepared.msg, run)
    watched?.end(prepared, run, outcome)
    return outcome
  } catch (err) {
    const reason = `internal error while running the delivery: ${describeError(err)}`
    env.log.error({ id: delivery.id, err: reason }, 'delivery sent to the dead-letter store')
    const outcome: Outcome = { kind: 'dead', delivery, reason }
    if (watched && job) watched.end(job, null, outcome)
    return outcome
  }
}
