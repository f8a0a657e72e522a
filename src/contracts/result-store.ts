/**
 * The result store contract: where workers write task states and results, and where
 * `AsyncResult` reads them. Values are stored encoded (see core/codec.ts).
 */
import type { TaskState } from '../core/states.js'

export interface ResultRecord {
  readonly id: string
  readonly state: TaskState
  readonly task: string | null
  /** Encoded return value, for SUCCESS. */
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
}

export interface WaitOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

export interface ResultStore {
  readonly scheme: string
  connect(): Promise<void>
  close(): Promise<void>
  /**
   * Writes a batch (one round trip). A record in a ready state (SUCCESS, FAILURE, REVOKED) is
   * never replaced by one in a state that is not ready, so a late STARTED cannot hide a result.
   */
  set(records: readonly ResultRecord[]): Promise<void>
  /** Reads a batch; null where nothing is stored (or it expired). */
  get(ids: readonly string[]): Promise<(ResultRecord | null)[]>
  /** Resolves when the record reaches a ready state, or with the latest record (or null) on timeout. */
  wait(id: string, options: WaitOptions): Promise<ResultRecord | null>
  /** Forgets records. Returns how many were stored. */
  forget(ids: readonly string[]): Promise<number>
  /** Deletes expired records. Returns how many. */
  cleanup(): Promise<number>
}
