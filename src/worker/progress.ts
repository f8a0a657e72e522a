/**
 * Writing what running tasks report with `ctx.progress()`. Calls are coalesced: a task's progress
 * is written at most once per `intervalMs`, always with the latest value (a burst of calls writes
 * the first at once and the last when the interval is over). Everything due at one moment goes
 * in one result-store call, then one broadcast per task tells followers to read it. Writes are
 * serial, so a task's values land in the order reported.
 *
 * A progress record is STARTED with the value as its `result`, fenced by the delivery: a stale
 * delivery's write is refused by the store, and one landing after the task's outcome cannot hide
 * it. Progress is for watching: a write that fails is logged once per outage and dropped; the
 * next value is written as usual.
 */
import type { Coordination } from '../contracts/coordination.js'
import type { ResultRecord, ResultStore } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { decode } from '../core/codec.js'
import type { CeleriacEvent } from '../core/events.js'
import { progressChannel, type ProgressNotice } from '../core/progress.js'
import { toJsonSafe } from '../core/render.js'
import type { Logger } from './logger.js'
import type { PreparedJob } from './prepare.js'
import { makeRecord } from './records.js'

/** Default shortest time between two progress writes of one task. */
export const PROGRESS_INTERVAL_MS = 100

/** How long a finishing task waits for its progress write in flight. */
const END_WAIT_MS = 2000

export interface ProgressDeps {
  readonly results: ResultStore | null
  readonly coordination: Coordination | null
  /** The STARTED record carrying the encoded progress, as the worker writes records. */
  readonly record: (job: PreparedJob, encoded: string, startedAt: number) => ResultRecord
  /** Told of each value written (events), with the job and the encoded value. */
  readonly written?: (job: PreparedJob, encoded: string) => void
  readonly log: Logger
  readonly intervalMs?: number
}

interface Entry {
  readonly job: PreparedJob
  startedAt: number
  /** The value not yet written, or null. */
  value: string | null
  /** When its last write began. */
  lastAt: number
}

export class ProgressReporter {
  private readonly entries = new Map<string, Entry>()
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> | null = null
  private failing = false
  private closed = false
  private readonly intervalMs: number

  constructor(private readonly deps: ProgressDeps) {
    this.intervalMs = deps.intervalMs ?? PROGRESS_INTERVAL_MS
  }

  /** A running task reported a value (already checked and encoded). */
  report(job: PreparedJob, encoded: string, startedAt: number): void {
    if (this.closed) return
    const token = job.delivery.token
    let entry = this.entries.get(token)
    if (!entry) this.entries.set(token, (entry = { job, startedAt, value: null, lastAt: 0 }))
    entry.value = encoded
    this.schedule()
  }

  /**
   * The task's body returned: later values are not written, and this resolves once a write of
   * its progress in flight has landed (bounded), so its outcome is written after it.
   */
  /** The run ended: a promise only while a progress write of it may be in flight. */
  end(job: PreparedJob): Promise<void> | undefined {
    if (!this.entries.delete(job.delivery.token) || !this.writing) return undefined
    return this.endWait()
  }

  private async endWait(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.writing, new Promise((r) => (timer = setTimeout(r, END_WAIT_MS)))])
    clearTimeout(timer)
  }

  /** Stops: nothing more is written. Resolves when a write in flight has ended. */
  async close(): Promise<void> {
    this.closed = true
    this.entries.clear()
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.writing
  }

  private schedule(): void {
    if (this.writing || this.timer || this.closed) return
    let due = Number.POSITIVE_INFINITY
    for (const e of this.entries.values())
      if (e.value !== null) due = Math.min(due, e.lastAt + this.intervalMs)
    if (due === Number.POSITIVE_INFINITY) return
    this.timer = setTimeout(
      () => {
        this.timer = null
        this.writing = this.flush().finally(() => {
          this.writing = null
          this.schedule()
        })
      },
      Math.max(0, due - Date.now()),
    )
    this.timer.unref()
  }

  private async flush(): Promise<void> {
    const now = Date.now()
    const due: { job: PreparedJob; value: string; startedAt: number }[] = []
    for (const e of this.entries.values()) {
      if (e.value === null || e.lastAt + this.intervalMs > now) continue
      due.push({ job: e.job, value: e.value, startedAt: e.startedAt })
      e.value = null
      e.lastAt = now
    }
    if (!due.length) return
    const { results, coordination } = this.deps
    const stored = due.filter((d) => d.job.storeResult)
    try {
      if (results && stored.length) {
        await results.set(stored.map((d) => this.deps.record(d.job, d.value, d.startedAt)))
        if (coordination)
          await Promise.all(
            stored.map((d) => {
              const notice: ProgressNotice = { id: d.job.msg.id, fence: d.job.delivery.fence }
              return coordination.broadcast(progressChannel(d.job.msg.id), JSON.stringify(notice))
            }),
          )
      }
      if (this.failing) {
        this.failing = false
        this.deps.log.info('writing task progress works again')
      }
    } catch (err) {
      if (!this.failing) {
        this.failing = true
        this.deps.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'writing task progress failed; values are dropped until it works again',
        )
      }
    }
    for (const d of due) this.deps.written?.(d.job, d.value)
  }
}

/** The worker's reporter: records made as every other record, and a `task-progress` event per value. */
export function workerProgress(env: {
  readonly app: App
  readonly worker: string
  readonly log: Logger
  readonly results: ResultStore | null
  readonly coordination: Coordination | null
  /** Sends an event (when events are on). */
  readonly event?: (e: Omit<CeleriacEvent, 'at' | 'worker'>, job: PreparedJob) => void
}): ProgressReporter {
  const { event } = env
  return new ProgressReporter({
    results: env.results,
    coordination: env.coordination,
    log: env.log,
    record: (job, encoded, startedAt) =>
      makeRecord(env, job.msg, job.delivery, 'STARTED', startedAt, { result: encoded }),
    written: event
      ? (job, encoded) =>
          event(
            {
              type: 'task-progress',
              id: job.msg.id,
              task: job.msg.task,
              fence: job.delivery.fence,
              progress: toJsonSafe(decode(encoded)),
            },
            job,
          )
      : undefined,
  })
}
