/**
 * Settling finished deliveries in batches: every outcome that finishes in the same turn of the
 * event loop is written with one result-store call and one broker call per kind (ack, retry,
 * defer, dead-letter). Results are written before the broker forgets the job, so a crash in between
 * re-runs the task rather than losing its result.
 */
import type { Broker, Delivery } from '../contracts/broker.js'
import type { RecordEvents, ResultRecord, ResultStore } from '../contracts/result-store.js'
import type { FollowUp } from '../canvas/hooks.js'

/**
 * Every outcome may carry a workflow follow-up (next chain step, callbacks, a chord join): done
 * after the results are written and before the broker forgets the delivery.
 */
export type Outcome = (
  | { readonly kind: 'ack'; readonly delivery: Delivery; readonly result?: ResultRecord }
  | {
      readonly kind: 'retry'
      readonly delivery: Delivery
      readonly body: string
      readonly delayMs: number
      /** What the retry is for (the error), for logs and events. */
      readonly reason?: string
      readonly result?: ResultRecord
    }
  | {
      /** Not run: a limit held it back; back to the broker unchanged, not counted (flow control). */
      readonly kind: 'defer'
      readonly delivery: Delivery
      readonly delayMs: number
      readonly result?: undefined
    }
  | {
      readonly kind: 'dead'
      readonly delivery: Delivery
      readonly reason: string
      readonly result?: ResultRecord
    }
) & { readonly followUp?: FollowUp }

export interface SettlerHooks {
  /** Called once per outcome when the broker answered; `live` is false for a stale token. */
  settled(outcome: Outcome, live: boolean): void
  /** A batch could not be written; it will be tried again. */
  failed(error: unknown, count: number): void
  /** A batch was written. */
  ok(): void
  /**
   * Carries out the follow-ups of a batch (workflows), called while its results are being
   * written: `written` resolves when they are.
   */
  followUps?(items: readonly FollowUp[], written: Promise<void>): Promise<void>
  /** The outcome events that ride on the write of these outcomes' records, if any do. */
  recordEvents?(withRecords: readonly Outcome[]): RecordEvents | undefined
}

/**
 * Batches in flight at once: later batches' result writes overlap earlier batches'
 * acknowledgement; each job's own result is still written before its ack.
 */
const MAX_IN_FLIGHT = 4

export class Settler {
  private pending: Outcome[] = []
  private readonly inFlight = new Set<Promise<void>>()
  /** The batches in flight (their tokens are read only at shutdown: no per-outcome bookkeeping). */
  private readonly writing = new Set<readonly Outcome[]>()
  private scheduled = false
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private backoffMs = 0

  constructor(
    private readonly broker: Broker,
    private readonly results: ResultStore | null,
    private readonly hooks: SettlerHooks,
  ) {}

  get size(): number {
    return this.pending.length
  }

  add(outcome: Outcome): void {
    this.pending.push(outcome)
    this.schedule(0)
  }

  /** Tokens of the outcomes not yet settled (pending or being written). */
  tokens(): string[] {
    const out = this.pending.map((o) => o.delivery.token)
    for (const batch of this.writing) for (const o of batch) out.push(o.delivery.token)
    return out
  }

  /**
   * Stops writing: no batch is started or retried after this, and no timer keeps the process
   * alive. Returns how many outcomes were still pending (their leases will lapse).
   */
  close(): number {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const n = this.pending.length
    this.pending = []
    return n
  }

  private schedule(delayMs: number): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    const run = () => {
      this.scheduled = false
      this.timer = null
      void this.flush()
    }
    if (delayMs > 0) {
      this.timer = setTimeout(run, delayMs)
      this.timer.unref()
    } else setImmediate(run)
  }

  /**
   * Starts writing what is pending if a batch may be started; resolves when a batch in flight
   * has finished (or at once when there is nothing to do).
   */
  flush(): Promise<void> {
    // After a failure, one batch at a time until writes succeed again.
    const limit = this.backoffMs > 0 ? 1 : MAX_IN_FLIGHT
    if (this.closed || !this.pending.length || this.inFlight.size >= limit) {
      return this.inFlight.size ? Promise.race(this.inFlight) : Promise.resolve()
    }
    const write: Promise<void> = this.write().finally(() => {
      this.inFlight.delete(write)
      if (this.pending.length) this.schedule(this.backoffMs)
    })
    this.inFlight.add(write)
    return write
  }

  /** Flushes until nothing is pending or in flight, or `deadline` passes. */
  async drain(deadline: number): Promise<void> {
    while ((this.pending.length || this.inFlight.size) && Date.now() < deadline) {
      await this.flush()
      if (this.closed) return
      if (this.pending.length && this.backoffMs)
        await new Promise((r) => setTimeout(r, Math.min(this.backoffMs, Math.max(0, deadline - Date.now()))))
    }
  }

  private async write(): Promise<void> {
    const batch = this.pending
    this.pending = []
    this.writing.add(batch)
    try {
      const records: ResultRecord[] = []
      const withRecords: Outcome[] = []
      const acks: Outcome[] = []
      const retries: Extract<Outcome, { kind: 'retry' }>[] = []
      const deads: Extract<Outcome, { kind: 'dead' }>[] = []
      const defers: Extract<Outcome, { kind: 'defer' }>[] = []
      for (const o of batch) {
        if (o.result) {
          records.push(o.result)
          withRecords.push(o)
        }
        if (o.kind === 'ack') acks.push(o)
        else if (o.kind === 'retry') retries.push(o)
        else if (o.kind === 'defer') defers.push(o)
        else deads.push(o)
      }
      const written =
        records.length && this.results
          ? this.results.set(records, this.hooks.recordEvents?.(withRecords))
          : null
      const followUps: FollowUp[] = []
      for (const o of batch) if (o.followUp) followUps.push(o.followUp)
      // Workflow sends go out alongside the result write (one round trip on a pipelined engine);
      // the hook waits for `written` where it reads results (chord joins).
      if (followUps.length && this.hooks.followUps)
        await Promise.all([written, this.hooks.followUps(followUps, written ?? Promise.resolve())])
      else if (written) await written
      const [a, r, d, f] = await Promise.all([
        acks.length ? this.broker.ack(acks.map((o) => o.delivery)) : [],
        retries.length
          ? this.broker.retry(
              retries.map((o) => ({
                id: o.delivery.id,
                token: o.delivery.token,
                body: o.body,
                delayMs: o.delayMs,
              })),
            )
          : [],
        deads.length
          ? this.broker.deadLetter(
              deads.map((o) => ({ id: o.delivery.id, token: o.delivery.token, reason: o.reason })),
            )
          : [],
        defers.length
          ? this.broker.defer(
              defers.map((o) => ({ id: o.delivery.id, token: o.delivery.token, delayMs: o.delayMs })),
            )
          : [],
      ])
      acks.forEach((o, i) => this.hooks.settled(o, a[i] ?? false))
      retries.forEach((o, i) => this.hooks.settled(o, r[i] ?? false))
      deads.forEach((o, i) => this.hooks.settled(o, d[i] ?? false))
      defers.forEach((o, i) => this.hooks.settled(o, f[i] ?? false))
      this.backoffMs = 0
      this.hooks.ok()
    } catch (err) {
      // Nothing is lost: the batch goes back to the front and is written again after a pause.
      // Results are idempotent upserts; a broker call that did apply fences the second try off.
      if (!this.closed) this.pending = batch.concat(this.pending)
      this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 100), 5000)
      this.hooks.failed(err, batch.length)
    } finally {
      this.writing.delete(batch)
    }
  }
}
