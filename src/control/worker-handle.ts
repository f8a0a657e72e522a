/**
 * What remote control needs from a worker, as one narrow interface the Worker implements: the
 * control folder never reaches into the worker's fields.
 */
import type { WorkerInfo } from './protocol.js'

export interface ActiveTask {
  readonly id: string
  readonly task: string
  readonly queue: string
  /** Epoch ms. */
  readonly startedAt: number
  /** Arguments as JSON text, cut to 200 characters. */
  readonly args: string
  readonly deliveries: number
}

export interface ReservedTask {
  readonly id: string
  readonly task: string | null
  readonly queue: string
}

export interface ControlledWorker {
  readonly name: string
  /** The registry entry, without the heartbeat fields. */
  info(): Omit<WorkerInfo, 'heartbeatAt' | 'heartbeatMs' | 'state'>
  statsReply(): Record<string, unknown>
  active(): ActiveTask[]
  reserved(): ReservedTask[]
  registered(): string[]
  revokedCount(): number
  /**
   * Records revocations and aborts running copies (`terminate`: kills their thread or process
   * on a pool that can, frees the slot on the async pool). Returns how many were running.
   */
  revoke(ids: readonly string[], ttlMs: number, terminate: boolean): number
  /** Adds (or removes, when negative) slots; returns the new concurrency. */
  resize(delta: number): number
  /** Starts consuming a queue too; returns the queues consumed now. */
  addQueue(queue: string): Promise<string[]>
  /** Stops consuming a queue; returns the queues consumed now. */
  cancelQueue(queue: string): Promise<string[]>
  stop(): Promise<void>
}
