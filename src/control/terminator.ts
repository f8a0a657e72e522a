/**
 * The hook a pool gives `revoke --terminate`: a thread or process pool kills the thread or
 * process running the task and reports the run as ended (the worker records it REVOKED). The
 * async pool has none: there, terminate aborts the task's `ctx.signal` and frees its slot.
 */
export interface Terminator {
  /** Kills what runs the task with this id; false when this pool runs no such task. */
  terminate(taskId: string): boolean
}
