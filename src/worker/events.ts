/**
 * Sending events to the coordination part's event log. Events wait up to `flushMs` (default
 * 100 ms) and go in one `append` (one round trip); while they wait, the events of one delivery
 * are folded into one (received + started + succeeded become one task-succeeded carrying
 * `receivedAt` and `startedAt`; readers expand it again, see core/events.ts), so a short task
 * costs one entry, one JSON text and one stream write instead of three. The log is bounded by
 * `maxLen`, and a log that cannot be written never slows or stops the worker: the buffer is
 * bounded too, and what does not fit is counted and dropped (events are for watching, never for
 * correctness).
 */
import type { Coordination } from '../contracts/coordination.js'
import { EVENTS_STREAM, FOLDABLE, type CeleriacEvent } from '../core/events.js'
import type { Logger } from './logger.js'
import { OutageLog } from './outage.js'

const MAX_BUFFERED = 10_000

type Pending = { -readonly [K in keyof CeleriacEvent]: CeleriacEvent[K] }

export class EventSink {
  private buffer: Pending[] = []
  /** Buffered events a later event of the same delivery may still fold into, by id and fence. */
  private open = new Map<string, Pending>()
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

  /** Takes an event; it is the sink's from now on (it may be changed by a later fold). */
  emit(event: CeleriacEvent): void {
    const e = event as Pending
    if (e.id !== undefined && FOLDABLE.has(e.type)) {
      const key = e.fence === undefined ? e.id : `${e.id}\u0000${e.fence}`
      const earlier = this.open.get(key)
      if (earlier) {
        fold(earlier, e)
        return
      }
      this.open.set(key, e)
    } else if (e.id !== undefined) {
      // Progress between start and end: later events of this delivery stay after it.
      this.open.delete(e.fence === undefined ? e.id : `${e.id}\u0000${e.fence}`)
    }
    if (this.buffer.length >= MAX_BUFFERED) {
      this.buffer.shift()
      this.dropped++
    }
    this.buffer.push(e)
    if (this.timer) return
    this.timer = setTimeout(() => void this.flush(), this.flushMs)
    this.timer.unref()
  }

  /** Writes what is buffered (one append); resolves when it is written or has failed. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.writing
    if (!this.buffer.length) return
    const batch = this.buffer.map((e) => JSON.stringify(e))
    this.buffer = []
    this.open.clear()
    this.writing = this.coordination
      .append(EVENTS_STREAM, batch, this.maxLen)
      .then(
        () => this.outages.ok('writing events'),
        (err) => {
          this.dropped += batch.length
          this.outages.failed('writing events', err, { dropped: batch.length })
        },
      )
      .finally(() => (this.writing = null))
    await this.writing
  }
}

/** Folds a later event of the same delivery into the buffered one, which takes its place. */
function fold(into: Pending, later: Pending): void {
  if (into.type === 'task-received') into.receivedAt ??= into.at
  else if (into.type === 'task-started') into.startedAt ??= into.at
  const target = into as Record<string, unknown>
  const source = later as Record<string, unknown>
  // Fields the later event leaves out (undefined) keep what the earlier one said.
  for (const k in source) if (source[k] !== undefined) target[k] = source[k]
}
