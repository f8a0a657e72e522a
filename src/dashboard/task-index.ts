/**
 * The dashboard's view of the event log, kept up to date a page at a time: one row per task and,
 * per queue, per-minute counts over the last hour (finished and failed tasks) for the Overview's
 * charts. Each request reads only the events appended since the last one (the first reads the
 * log once, page by page, folding as it goes), instead of the whole log every time.
 *
 * Everything here comes from durable storage: a restarted dashboard rebuilds the same rows and
 * counts from the log. Memory stays flat: rows are capped (the log itself is bounded by the
 * workers' eventsMaxLen), each row keeps its last few events, and buckets older than an hour go.
 */
import type { Coordination, LoggedEvent } from '../contracts/coordination.js'
import { EVENTS_STREAM, parseEvents, type CeleriacEvent } from '../core/events.js'
import { applyEvent, newRow, type TaskRow } from './history.js'

const PAGE = 1000
const MINUTE = 60_000
/** Minutes the charts cover. */
export const CHART_MINUTES = 60
/** Events kept per task for its detail page. */
const EVENTS_PER_TASK = 50

interface Indexed {
  row: TaskRow & { fence: number }
  events: CeleriacEvent[]
}

/** Per minute (epoch ms of its start), tasks finished and tasks failed. */
type Buckets = Map<number, { done: number; failed: number }>

export interface QueueSeries {
  readonly queue: string
  /** Start of the first minute (epoch ms); one entry per minute up to the current one. */
  readonly from: number
  readonly done: readonly number[]
  readonly failed: readonly number[]
}

export class TaskIndex {
  private cursor: string | null = null
  private readonly rows = new Map<string, Indexed>()
  private readonly buckets = new Map<string, Buckets>()
  private refreshing: Promise<void> | null = null

  constructor(
    private readonly c: Coordination,
    /** Rows kept; the least recently updated go first. */
    private readonly maxRows = 20_000,
  ) {}

  /** Reads the events appended since the last call (concurrent callers share one read). */
  refresh(): Promise<void> {
    this.refreshing ??= this.readNew().finally(() => (this.refreshing = null))
    return this.refreshing
  }

  /** The cursor after the last event read (for the live stream to continue from). */
  get position(): string | null {
    return this.cursor
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const page: LoggedEvent[] = await this.c.read(EVENTS_STREAM, this.cursor, PAGE)
      for (const e of page) for (const parsed of parseEvents(e.data)) this.add(parsed)
      if (page.length) this.cursor = page[page.length - 1]!.id
      if (page.length < PAGE) break
    }
    this.trim(Date.now())
  }

  private add(e: CeleriacEvent): void {
    if (!e.id || !e.type.startsWith('task-')) return
    let entry = this.rows.get(e.id)
    if (entry)
      this.rows.delete(e.id) // re-inserted below: the map's order is least recent first
    else entry = { row: newRow(e), events: [] }
    this.rows.set(e.id, entry)
    entry.events.push(e)
    if (entry.events.length > EVENTS_PER_TASK) entry.events.shift()
    applyEvent(entry.row, e)
    const finished = e.type === 'task-succeeded' || e.type === 'task-failed' || e.type === 'task-revoked'
    if (finished && e.queue) {
      let b = this.buckets.get(e.queue)
      if (!b) this.buckets.set(e.queue, (b = new Map()))
      const minute = Math.floor(e.at / MINUTE) * MINUTE
      let slot = b.get(minute)
      if (!slot) b.set(minute, (slot = { done: 0, failed: 0 }))
      slot.done++
      if (e.type === 'task-failed') slot.failed++
    }
  }

  private trim(now: number): void {
    for (const id of this.rows.keys()) {
      if (this.rows.size <= this.maxRows) break
      this.rows.delete(id)
    }
    const oldest = Math.floor(now / MINUTE) * MINUTE - (CHART_MINUTES - 1) * MINUTE
    for (const [queue, b] of this.buckets) {
      for (const minute of b.keys()) if (minute < oldest) b.delete(minute)
      if (!b.size) this.buckets.delete(queue)
    }
  }

  /** Task rows, most recently updated first. */
  *newestFirst(): Generator<TaskRow> {
    const all = [...this.rows.values()]
    for (let i = all.length - 1; i >= 0; i--) {
      const { fence: _f, ...row } = all[i]!.row
      yield row
    }
  }

  /** The events kept for one task, oldest first. */
  eventsOf(id: string): CeleriacEvent[] {
    return this.rows.get(id)?.events ?? []
  }

  /** Task names and workers seen, sorted, for the filters. */
  choices(): { names: string[]; workers: string[]; queues: string[] } {
    const names = new Set<string>()
    const workers = new Set<string>()
    const queues = new Set<string>()
    for (const { row } of this.rows.values()) {
      if (row.task) names.add(row.task)
      workers.add(row.worker)
      if (row.queue) queues.add(row.queue)
    }
    return { names: [...names].sort(), workers: [...workers].sort(), queues: [...queues].sort() }
  }

  /** Per queue, finished and failed tasks per minute over the last hour, oldest minute first. */
  series(now = Date.now()): QueueSeries[] {
    const current = Math.floor(now / MINUTE) * MINUTE
    const from = current - (CHART_MINUTES - 1) * MINUTE
    return [...this.buckets.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([queue, b]) => {
        const done = new Array<number>(CHART_MINUTES).fill(0)
        const failed = new Array<number>(CHART_MINUTES).fill(0)
        for (const [minute, slot] of b) {
          const i = (minute - from) / MINUTE
          if (i < 0 || i >= CHART_MINUTES) continue
          done[i] = slot.done
          failed[i] = slot.failed
        }
        return { queue, from, done, failed }
      })
  }

  /** Finished and failed tasks over the last `ms`, all queues. */
  recent(ms: number, now = Date.now()): { done: number; failed: number } {
    let done = 0
    let failed = 0
    for (const b of this.buckets.values())
      for (const [minute, slot] of b)
        if (minute + MINUTE > now - ms) {
          done += slot.done
          failed += slot.failed
        }
    return { done, failed }
  }
}
