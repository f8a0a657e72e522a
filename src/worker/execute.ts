/**
 * Running one delivery in an async slot: prepare (decode, look up, check), run (the body under
 * its limits), conclude (retry policy, records). Never throws: a fault of the worker's own code
 * dead-letters the delivery with the reason rather than killing the process.
 */
import type { Delivery } from '../contracts/broker.js'
import type { FlowHooks } from '../flow/gate.js'
import type { ResultRecord } from '../contracts/result-store.js'
import { conclude, describeError } from './conclude.js'
import { isPrepared, prepare, type PreparedJob, type WorkerEnv } from './prepare.js'
import { makeRecord } from './records.js'
import { runTask, type RunEnv } from './run.js'
import type { Outcome } from './settle.js'

export interface ExecuteEnv extends WorkerEnv, RunEnv {
  /** Records a STARTED state (batched by the worker). */
  readonly started: (record: ResultRecord) => void
  /** Told when a delivery passed its checks and its task begins (events). */
  readonly running?: (job: PreparedJob) => void
  /** Flow control (src/flow): may hold the job back (deferred) before it runs. */
  readonly gate?: FlowHooks
}

export async function execute(env: ExecuteEnv, delivery: Delivery): Promise<Outcome> {
  try {
    const prepared = prepare(env, delivery)
    if (!isPrepared(prepared)) return prepared
    const held = env.gate?.admit(env, prepared)
    if (held) {
      const outcome = await held
      if (outcome) return outcome
    }
    env.running?.(prepared)
    if (prepared.storeResult && (prepared.task.options.trackStarted ?? env.app.trackStarted))
      env.started(makeRecord(env, prepared.msg, delivery, 'STARTED', Date.now(), {}))
    try {
      return conclude(env, prepared, await runTask(env, prepared))
    } finally {
      env.gate?.finished(prepared)
    }
  } catch (err) {
    const reason = `internal error while running the delivery: ${describeError(err)}`
    env.log.error({ id: delivery.id, err: reason }, 'delivery sent to the dead-letter store')
    return { kind: 'dead', delivery, reason }
  }
}
