/**
 * Events to the coordination part's event log, cheap enough to leave on.
 *
 * EventSink: events wait up to `flushMs` (default 100 ms) and go in one `append` (one round
 * trip). The log is bounded by `maxLen`, and a log that cannot be written never slows or stops
 * the worker: the buffer is bounded too, and what does not fit is counted and dropped (events are
 * for watching, never for correctness).
 *
 * TaskEvents: a delivery's events are made only when someone could see them apart. A task that
 * is received, started and done within `announceMs` (default 100 ms, one write of the log) is
 * one event: its outcome, carrying `receivedAt`, `startedAt` and the arguments; readers give back
 * all three events with their own times (expandEvent in core/events.ts). A task still waiting or
 * running after `announceMs` is announced then (task-received, task-started), so a live view
 * shows it, and its outcome later carries only what was not announced.
 *
 * Where the result store can write into the log itself (ResultStore.writesEventsTo: Redis on
 * one server), the outcome of a task whose result is stored rides on the result write: the
 * worker hands the store a short line per record (recordEventHint) and builds, encodes and sends
 * no event of its own for it.
 */
import type { Coordination } from '../contracts/coordination.js'
import type { Delivery } from '../contracts/broker.js'
import type { RecordEvents } from '../contracts/result-store.js'
import { argsPreview, eventText, EVENTS_STREAM, recordEventHint, type CeleriacEvent } from '../core/events.js'
import type { Logger } from './logger.js'
import { OutageLog } from './outage.js'
import type { PreparedJob } from './prepare.js'
import type { TrackedRun } from './run.js'
import type { Outcome } from './settle.js'

const MAX_BUFFERED = 10_000

export class EventSink {
  private buffer: CeleriacEvent[] = []
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> | null = null
  /** Events dropped because the log could not take them fast enough. */
  dropped = 0
  private readonly outages: OutageLog

  constructor(
    private readonly coordination: Coordination,
    private readonly maxLen: number,
    log: Logger,
    private readonly flushMs = 100,
  ) {
    this.outages = new OutageLog(log)
  }

  emit(event: CeleriacEvent): void {
    if (this.buffer.length >= MAX_BUFFERED) {
      this.buffer.shift()
      this.dropped++
    }
    this.buffer.push(event)
    if (this.timer) return
    this.timer = setTimeout(() => this.send(), this.flushMs)
    this.timer.unref()
  }

  /** Writes what is buffered (one append); resolves when it and every earlier write are done. */
  async flush(): Promise<void> {
    this.send()
    await this.writing
  }

  /**
   * Sends what is buffered now, after the writes already sent. On an engine whose log and result
   * store share one connection (the only case where outcome events ride on result writes), the
   * connection keeps that order, so an announcement sent here lands before an outcome written
   * after it.
   */
  send(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (!this.buffer.length) return
    const batch = this.buffer.map(eventText)
    this.buffer = []
    const write = this.coordination.append(EVENTS_STREAM, batch, this.maxLen).then(
      () => this.outages.ok('writing events'),
      (err) => {
        this.dropped += batch.length
        this.outages.failed('writing events', err, { dropped: batch.length })
      },
    )
    const all: Promise<void> = Promise.all([this.writing, write]).then(() => {
      if (this.writing === all) this.writing = null
    })
    this.writing = all
  }

  /** Whether events wait in the buffer. */
  get pending(): boolean {
    return this.buffer.length > 0
  }
}

/**
 * A delivery the worker holds (buffered, running, or finished and not yet settled), with what
 * TaskEvents knows of it: when it came and started, and what was announced. The worker keeps one
 * per delivery in its map of held deliveries (by token), which TaskEvents reads, so events add no
 * bookkeeping of their own per task.
 */
export interface Held {
  readonly delivery: Delivery
  /** When it was received (epoch ms); 0 while events are off. */
  readonly receivedAt: number
  startedAt: number
  job: PreparedJob | null
  /** 0: nothing announced yet; 1: task-received; 2: task-started. */
  shown: 0 | 1 | 2
  /** Its outcome event is being written with its result: nothing more is announced. */
  riding: boolean
}

export function held(delivery: Delivery, receivedAt: number): Held {
  return { delivery, receivedAt, startedAt: 0, job: null, shown: 0, riding: false }
}

/** The worker's held deliveries, as TaskEvents reads them. */
export interface HeldDeliveries {
  get(token: string): Held | undefined
  values(): IterableIterator<Held>
}

export class TaskEvents {
  private timer: NodeJS.Timeout | null = null
  /** Set when outcome events ride on result writes. */
  private rides: { readonly stream: string; readonly maxLen: number } | null = null

  constructor(
    private readonly sink: EventSink,
    private readonly worker: string,
    /** The worker's held deliveries; each is in it from receipt until its outcome is settled. */
    private readonly seen: HeldDeliveries,
    private readonly announceMs = 100,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.announce(Date.now()), this.announceMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** Outcome events of tasks whose results are stored ride on the result write from now on. */
  rideOnResults(maxLen: number): void {
    this.rides = { stream: EVENTS_STREAM, maxLen }
  }

  /** For the settler: what the outcome events add to these outcomes' records (see rideOnResults). */
  recordEvents(withRecords: readonly Outcome[]): RecordEvents | undefined {
    if (!this.rides) return undefined
    // Announcements (and worker events) buffered so far go out first, so the log keeps order.
    if (this.sink.pending) this.sink.send()
    const hints: (string | null)[] = []
    for (const o of withRecords) {
      if (o.kind === 'defer') {
        hints.push(null)
        continue
      }
      const s = this.seen.get(o.delivery.token)
      const reason = o.kind === 'ack' ? undefined : o.reason
      if (!s) {
        hints.push(recordEventHint(2, 0, o.delivery.queue, undefined, reason))
        continue
      }
      s.riding = true
      const args = s.shown < 2 && s.job ? argsPreview(s.job.msg.args, s.job.msg.kwargs) : undefined
      hints.push(recordEventHint(s.shown, s.receivedAt, o.delivery.queue, args, reason))
    }
    return { stream: this.rides.stream, maxLen: this.rides.maxLen, hints }
  }

  /** A run began (the worker's run tracking tells): its start and job, for what is announced. */
  started(run: TrackedRun): void {
    const s = this.seen.get(run.job.delivery.token)
    if (!s) return
    s.startedAt = run.startedAt
    s.job = run.job
  }

  /** Before a progress event of the run: its start is announced first, so the log keeps order. */
  progressOf(job: PreparedJob): void {
    const s = this.seen.get(job.delivery.token)
    if (s && s.startedAt && s.shown < 2 && !s.riding) this.showStarted(s)
  }

  /**
   * The outcome's event; none for a stale one (the run that took over reports) or a deferral.
   * Called while the delivery is still held.
   */
  settled(o: Outcome, live: boolean): void {
    // Its event was written with its result (recordEvents), or it has none to write.
    if (!live || o.kind === 'defer' || (this.rides && o.result)) return
    const s = this.seen.get(o.delivery.token)
    const d = o.delivery
    const unshown = s !== undefined && s.shown < 2 && s.startedAt > 0
    this.sink.emit({
      type:
        o.kind === 'ack'
          ? o.result?.state === 'REVOKED'
            ? 'task-revoked'
            : 'task-succeeded'
          : o.kind === 'retry'
            ? 'task-retried'
            : 'task-failed',
      at: Date.now(),
      worker: this.worker,
      id: d.id,
      task: s?.job?.msg.task ?? o.result?.task ?? undefined,
      queue: d.queue,
      fence: d.fence,
      runtimeMs: s?.startedAt ? Date.now() - s.startedAt : undefined,
      reason: o.kind === 'ack' ? undefined : o.reason,
      receivedAt: s?.shown === 0 ? s.receivedAt : undefined,
      startedAt: unshown ? s.startedAt : undefined,
      args: unshown && s.job ? argsPreview(s.job.msg.args, s.job.msg.kwargs) : undefined,
    })
  }

  /** Announces what has waited or run for announceMs without an event. */
  private announce(now: number): void {
    for (const s of this.seen.values()) {
      if (s.shown === 2 || s.riding) continue
      if (s.startedAt) {
        if (now - s.startedAt >= this.announceMs) this.showStarted(s)
      } else if (s.shown === 0 && now - s.receivedAt >= this.announceMs) {
        s.shown = 1
        const d = s.delivery
        this.sink.emit({
          type: 'task-received',
          at: s.receivedAt,
          worker: this.worker,
          id: d.id,
          queue: d.queue,
          fence: d.fence,
        })
      }
    }
  }

  private showStarted(s: Held): void {
    const d = s.delivery
    const job = s.job!
    this.sink.emit({
      type: 'task-started',
      at: s.startedAt,
      worker: this.worker,
      id: d.id,
      task: job.msg.task,
      queue: d.queue,
      fence: d.fence,
      args: argsPreview(job.msg.args, job.msg.kwargs),
      receivedAt: s.shown === 0 ? s.receivedAt : undefined,
    })
    s.shown = 2
  }
}
