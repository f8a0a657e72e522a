/**
 * The result store contract: where workers write task states and results, and where
 * `AsyncResult` reads them. Values are stored encoded (see core/codec.ts).
 */
import type { TaskState } from '../core/states.js'
import type { Coordination } from './coordination.js'

export interface ResultRecord {
  readonly id: string
  readonly state: TaskState
  readonly task: string | null
  /**
   * Encoded return value, for SUCCESS; for a state that is not ready (STARTED), the encoded
   * progress the task last reported (`ctx.progress`), or null.
   */
  readonly result: string | null
  /** Encoded error, for FAILURE, RETRY (the error that caused it) and REVOKED. */
  readonly error: string | null
  readonly retries: number
  /** Worker name (hostname and pid) that last touched it. */
  readonly worker: string | null
  /** Epoch ms. */
  readonly startedAt: number | null
  /** Epoch ms, when it reached a ready state. */
  readonly doneAt: number | null
  /** Epoch ms of this write. */
  readonly updatedAt: number
  /** Epoch ms after which the store forgets the record; null keeps it. */
  readonly expiresAt: number | null
  /**
   * The fence of the delivery that wrote it (`Delivery.fence`), or null for a write that no
   * delivery made (a revoke, an operator). See `ResultStore.set`.
   */
  readonly fence: number | null
}

export interface WaitOptions {
  /** How long to wait; Infinity (or absent) waits until the record is ready or the signal aborts. */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

export interface ForgetOptions {
  /**
   * Per id, forget the record only while its fence is at most this (null: whatever it is). A
   * replayed job's new run writes a higher fence, so forgetting the old FAILURE after the replay
   * cannot erase the new run's state.
   */
  readonly upToFence?: readonly (number | null)[]
}

/**
 * Outcome events that ride on a result write (see `ResultStore.writesEventsTo`): for each record
 * of the batch that is written, an event in the coordination event log `stream` (several may
 * share an entry; parseEvents reads them), which keeps at most `maxLen` events. A record dropped
 * by its fence adds none.
 */
export interface RecordEvents {
  readonly stream: string
  readonly maxLen: number
  /**
   * One per record, in order: null for no event, else what the event adds to its record, made by
   * recordEventHint (core/events.ts): one line of text, without newlines.
   */
  readonly hints: readonly (string | null)[]
}

export interface ResultStore {
  readonly scheme: string
  /** Idempotent. */
  connect(): Promise<void>
  /** Idempotent. */
  close(): Promise<void>
  /**
   * Writes a batch (one round trip), record by record:
   * - a fenced record whose fence is lower than the stored one is dropped (a stale delivery:
   *   its lease was lost and the job delivered again);
   * - a record in a state that is not ready (STARTED, RETRY) never replaces a ready one
   *   (SUCCESS, FAILURE, REVOKED) of the same or a higher fence, so a late STARTED cannot hide
   *   a result; with a higher fence it does (the job runs again after a replay).
   * The highest fence written is kept with the record.
   */
  set(records: readonly ResultRecord[], events?: RecordEvents): Promise<void>
  /**
   * Whether `set` can write RecordEvents into this coordination part's event log in the same
   * step as the records (same server, one script or transaction). Absent or false: `set`
   * ignores `events`, and the worker appends its events itself.
   */
  writesEventsTo?(coordination: Coordination): boolean
  /** Reads a batch; null where nothing is stored (or it expired). */
  get(ids: readonly string[]): Promise<(ResultRecord | null)[]>
  /** Resolves when the record reaches a ready state, or with the latest record (or null) on timeout. */
  wait(id: string, options: WaitOptions): Promise<ResultRecord | null>
  /** Forgets records. Returns how many were removed. */
  forget(ids: readonly string[], options?: ForgetOptions): Promise<number>
  /** Deletes expired records. Returns how many. */
  cleanup(): Promise<number>
}

/** A result record as the SQL stores keep it: one row, column names in snake_case. */
export interface ResultRow {
  readonly id: string
  readonly state: TaskState
  readonly task: string | null
  readonly result: string | null
  readonly error: string | null
  readonly retries: number
  readonly worker: string | null
  readonly started_at: number | null
  readonly done_at: number | null
  readonly updated_at: number
  readonly expires_at: number | null
  readonly fence: number | null
}

/** The record a SQL store's row holds. */
export function recordFromRow(r: ResultRow): ResultRecord {
  return {
    id: r.id,
    state: r.state,
    task: r.task,
    result: r.result,
    error: r.error,
    retries: r.retries,
    worker: r.worker,
    startedAt: r.started_at,
    doneAt: r.done_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
    fence: r.fence,
  }
}
