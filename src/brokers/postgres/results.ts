/**
 * The PostgreSQL result store: the table `results` of the backend's schema. Writes are one
 * fenced upsert per batch; `wait` sleeps on LISTEN/NOTIFY (each ready write announces its id),
 * looking again on a timer only while notifications are not flowing.
 */
import {
  recordFromRow,
  type ResultRow,
  type ForgetOptions,
  type ResultRecord,
  type ResultStore,
  type WaitOptions,
} from '../../contracts/result-store.js'
import { isReady } from '../../core/states.js'
import type { PgDatabase } from './database.js'
import { PgPart } from './part.js'
import { CLEANUP_RESULTS, FORGET_RESULTS, GET_RESULTS, SET_RESULTS } from './sql/results.js'
import { Wakeups } from './wakeups.js'

/** How often a wait looks again while the LISTEN connection is down. */
const FALLBACK_POLL_MS = 250

/** Splits a batch so no round repeats an id; rounds keep the batch's order per id. */
function rounds(records: readonly ResultRecord[]): ResultRecord[][] {
  const out: ResultRecord[][] = []
  const seen = new Map<string, number>()
  for (const r of records) {
    const k = seen.get(r.id) ?? 0
    seen.set(r.id, k + 1)
    ;(out[k] ??= []).push(r)
  }
  return out
}

export class PostgresResultStore extends PgPart implements ResultStore {
  private readonly wakeups = new Wakeups()
  private listening: Promise<() => Promise<void>> | null = null

  /** A URL opens a pool of its own; a backend passes the database its parts share. */
  constructor(target: string | PgDatabase) {
    super(target, 'result store')
  }

  private get channel(): string {
    return this.database.channel('results')
  }

  protected override async closing(): Promise<void> {
    this.wakeups.wakeAll()
    const listening = this.listening
    this.listening = null
    await (
      await listening
    )?.()
  }

  async set(records: readonly ResultRecord[]): Promise<void> {
    const db = this.ready()
    if (!records.length) return
    const values = (batch: readonly ResultRecord[]) => [
      batch.map((r) => r.id),
      batch.map((r) => r.state),
      batch.map((r) => r.task),
      batch.map((r) => r.result),
      batch.map((r) => r.error),
      batch.map((r) => r.retries),
      batch.map((r) => r.worker),
      batch.map((r) => r.startedAt),
      batch.map((r) => r.doneAt),
      batch.map((r) => r.updatedAt),
      batch.map((r) => r.expiresAt),
      batch.map((r) => r.fence ?? null),
      this.channel,
    ]
    const parts = rounds(records)
    if (parts.length === 1) {
      await db.run(SET_RESULTS, values(records))
      return
    }
    // A batch repeating an id (rare): one statement per occurrence, in one transaction.
    const client = await db.db.connect()
    try {
      await client.query('BEGIN')
      for (const part of parts) await db.run(SET_RESULTS, values(part), client)
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async get(ids: readonly string[]): Promise<(ResultRecord | null)[]> {
    const db = this.ready()
    if (!ids.length) return []
    const { rows } = await db.run<ResultRow>(GET_RESULTS, [ids])
    const byId = new Map(rows.map((r) => [r.id, r]))
    return ids.map((id) => {
      const r = byId.get(id)
      return r ? recordFromRow(r) : null
    })
  }

  async wait(id: string, options: WaitOptions): Promise<ResultRecord | null> {
    // Absent or Infinity: no deadline.
    const deadline = Date.now() + (options.timeoutMs ?? Infinity)
    this.listening ??= this.database.notifier.on(this.channel, (p) => this.wakeups.notify(p))
    await this.listening
    for (;;) {
      const waiter = this.wakeups.waiter((p) => p === id)
      try {
        const [r] = await this.get([id])
        const left = deadline - Date.now()
        if ((r && isReady(r.state)) || left <= 0 || options.signal?.aborted || !this.isOpen) return r ?? null
        await waiter.wait(
          this.database.notifier.live ? left : Math.min(left, FALLBACK_POLL_MS),
          options.signal,
        )
        // Closed while waiting: the wait ends with what it last saw.
        if (!this.isOpen) return r ?? null
      } finally {
        waiter.cancel()
      }
    }
  }

  async forget(ids: readonly string[], options: ForgetOptions = {}): Promise<number> {
    const db = this.ready()
    if (!ids.length) return 0
    const bounds = ids.map((_, i) => options.upToFence?.[i] ?? null)
    return (await db.run(FORGET_RESULTS, [ids, bounds])).rowCount ?? 0
  }

  async cleanup(): Promise<number> {
    return (await this.ready().run(CLEANUP_RESULTS, [])).rowCount ?? 0
  }
}
