/**
 * Watching task runs from outside the hot path: per-task metrics (src/health) and tracing
 * (src/otel) plug in here. A worker with no watch calls nothing; with one, `begin` is one call
 * per run and may return a shared handle, so metrics allocate nothing per task.
 */
import type { PreparedJob } from './prepare.js'
import type { RunEnv, RunResult } from './run.js'
import type { Outcome } from './settle.js'

/** The body's run: in a slot (runTask) or in a pool. */
export type RunBody<E extends RunEnv> = (env: E, job: PreparedJob) => Promise<RunResult>

export interface WatchedRun {
  /** Runs the body for the watch (inside a span's context, say); absent: the body runs as is. */
  readonly run?: <E extends RunEnv>(body: RunBody<E>, env: E, job: PreparedJob) => Promise<RunResult>
  /** The run is over: `run` is null when the worker's own code failed around it. */
  end(job: PreparedJob, run: RunResult | null, outcome: Outcome): void
}

export interface RunWatch {
  /** A job passed its checks and its body is about to run; undefined watches nothing this time. */
  begin(job: PreparedJob): WatchedRun | undefined
}

/** One watch of two (either may be absent). */
export function bothWatches(a: RunWatch | undefined, b: RunWatch | undefined): RunWatch | undefined {
  if (!a || !b) return a ?? b
  return {
    begin(job) {
      const x = a.begin(job)
      const y = b.begin(job)
      if (!x || !y) return x ?? y
      const outer = x.run ? x : y
      const inner = x.run ? y : x
      return {
        run: outer.run
          ? (body, env, j) =>
              outer.run!((e, jj) => (inner.run ? inner.run(body, e, jj) : body(e, jj)), env, j)
          : undefined,
        end(j, run, outcome) {
          x.end(j, run, outcome)
          y.end(j, run, outcome)
        },
      }
    },
  }
}
