/**
 * Running one delivery in an async slot: prepare (decode, look up, check), run (the body under
 * its limits), conclude (retry policy, records). Never throws: a fault of the worker's own code
 * dead-letters the delivery with the reason rather than killing the process.
 */
import type { Delivery } from '../contracts/broker.js'
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
  /**
   * Whether the delivery may run, asked before anything else (src/dedup: one run per
   * caller-chosen id on brokers without idempotent publish). A delivery that may not is
   * acknowledged with no result written: another delivery of its id runs.
   */
  readonly mayRun?: (delivery: Delivery) => Promise<boolean>
}

export async function execute(env: ExecuteEnv, delivery: Delivery): Promise<Outcome> {
  try {
    if (env.mayRun && !(await env.mayRun(delivery))) {
      env.log.info(
        { id: delivery.id, fence: delivery.fence },
        'a second copy of a running or finished id: not run',
      )
      return { kind: 'ack', delivery }
    }
    const prepared = prepare(env, delivery)
    if (!isPrepared(prepared)) return prepared
    env.running?.(prepared)
    if (prepared.storeResult && (prepared.task.options.trackStarted ?? env.app.trackStarted))
      env.started(makeRecord(env, prepared.msg, delivery, 'STARTED', Date.now(), {}))
    return conclude(env, prepared, await runTask(env, prepared))
  } catch (err) {
    const reason = `internal error while running the delivery: ${describeError(err)}`
    env.log.error({ id: delivery.id, err: reason }, 'delivery sent to the dead-letter store')
    return { kind: 'dead', delivery, reason }
  }
}
