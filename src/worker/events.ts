/**
 * Sending events to the coordination part's event log: everything emitted in one turn of the
 * event loop goes in one `append` (one round trip), the log is bounded by `maxLen`, and a log
 * that cannot be written never slows or stops the worker: the buffer is bounded too, and what
 * does not fit is counted and dropped (events are for watching, never for correctness).
 */
import type { Coordination } from '../contracts/coordination.js'
import { EVENTS_STREAM, type CeleriacEvent } from '../core/events.js'
import type { Logger } from './logger.js'
import { OutageLog } from './outage.js'

const MAX_BUFFERED = 10_000

export class EventSink {
  private buffer: string[] = []
  private scheduled = false
  private writing: Promise<void> | null = null
  /** Events dropped because the log could not take them fast enough. */
  dropped = 0
  private readonly outages: OutageLog

  constructor(
    private readonly coordination: Coordination,
    private readonly maxLen: number,
    log: Logger,
  ) {
    this.outages = new OutageLog(log)
  }

  emit(event: CeleriacEvent): void {
    if (this.buffer.length >= MAX_BUFFERED) {
      this.buffer.shift()
      this.dropped++
    }
    this.buffer.push(JSON.stringify(event))
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => void this.flush())
  }

  /** Writes what is buffered (one append); resolves when it is written or has failed. */
  async flush(): Promise<void> {
    this.scheduled = false
    await this.writing
    if (!this.buffer.length) return
    const batch = this.buffer
    this.buffer = []
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
