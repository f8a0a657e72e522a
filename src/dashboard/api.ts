/**
 * The dashboard's JSON API as framework-free handlers returning `{ status, body }` (the shape of
 * src/http/status.ts), so the node:http server here, or a later Fastify/Hono/Express mount, only
 * routes to them. Everything is read from the broker, the result store and the coordination
 * part on each call.
 */
import type { Beat } from '../beat/beat.js'
import type { App } from '../core/app.js'
import { listWorkers, request } from '../control/index.js'
import { decodeMessage } from '../core/message.js'
import { toJsonSafe } from '../core/render.js'
import type { Coordination } from '../contracts/coordination.js'
import { filterTasks, foldTasks, readLog, taskDetail } from './history.js'

export interface Reply {
  readonly status: number
  readonly body: unknown
}

export class BadRequest extends Error {
  override readonly name = 'BadRequest'
}

const ok = (body: unknown): Reply => ({ status: 200, body })

function limitOf(v: string | null, fallback: number, max: number): number {
  if (v === null || v === '') return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new BadRequest(`limit must be a positive whole number, got "${v}"`)
  return Math.min(n, max)
}

function offsetOf(v: string | null): number {
  if (v === null || v === '') return 0
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new BadRequest(`offset must be a whole number, got "${v}"`)
  return n
}

function ids(body: unknown): string[] {
  const list = (body as { ids?: unknown } | null)?.ids
  if (!Array.isArray(list) || !list.length || !list.every((x) => typeof x === 'string' && x.length > 0))
    throw new BadRequest('the body needs "ids": a non-empty array of task ids')
  return list as string[]
}

export class DashboardApi {
  constructor(
    private readonly app: App,
    /** The beat whose entries the Schedules page shows (its records, not a running beat). */
    private readonly beat: Beat | null = null,
  ) {}

  async schedules(): Promise<Reply> {
    if (!this.beat || !(await this.coordination()))
      return ok({ entries: [], note: 'this broker has no coordination part: no beat entries' })
    const entries = await this.beat.list()
    return ok({
      key: this.beat.key,
      entries: entries.map((e) => ({
        name: e.name,
        task: e.task,
        description: e.description,
        args: toJsonSafe([e.args, e.kwargs ?? {}]),
        missed: e.missed,
        source: e.source,
        paused: e.paused,
        stored: e.stored,
        next: e.next?.getTime() ?? null,
        last: e.last?.getTime() ?? null,
      })),
    })
  }

  async scheduleAction(name: string, action: string): Promise<Reply> {
    if (!this.beat) throw new BadRequest('no beat is configured for this dashboard')
    if (action === 'pause') await this.beat.pause(name)
    else if (action === 'resume') await this.beat.resume(name)
    else throw new BadRequest(`unknown schedule action "${action}": pause or resume`)
    return ok({ entry: name, paused: action === 'pause' })
  }

  private async coordination(): Promise<Coordination | null> {
    return this.app.coordination()
  }

  async overview(): Promise<Reply> {
    const broker = await this.app.broker()
    const c = await this.coordination()
    const [queues, workers, log] = await Promise.all([
      broker.stats(),
      c ? listWorkers(c) : Promise.resolve([]),
      c ? readLog(c) : Promise.resolve({ events: [] }),
    ])
    const since = Date.now() - 60_000
    const failedLastMinute = log.events.filter((e) => e.type === 'task-failed' && e.at >= since).length
    const succeededLastMinute = log.events.filter((e) => e.type === 'task-succeeded' && e.at >= since).length
    return ok({
      queues,
      workersOnline: workers.filter((w) => w.online).length,
      workers: workers.length,
      failedLastMinute,
      succeededLastMinute,
      events: c !== null,
    })
  }

  async queues(): Promise<Reply> {
    return ok({ queues: await (await this.app.broker()).stats() })
  }

  async queueAction(queue: string, action: string): Promise<Reply> {
    const broker = await this.app.broker()
    if (action === 'pause') await broker.pause(queue)
    else if (action === 'resume') await broker.resume(queue)
    else if (action === 'purge') return ok({ purged: await broker.purge(queue) })
    else throw new BadRequest(`unknown queue action "${action}": pause, resume or purge`)
    return ok({ queue, paused: action === 'pause' })
  }

  async workers(): Promise<Reply> {
    const c = await this.coordination()
    if (!c) return ok({ workers: [], note: 'this broker has no coordination part: no worker registry' })
    const now = Date.now()
    const workers = (await listWorkers(c)).map((w) => ({
      ...w,
      heartbeatAgeMs: Math.max(0, now - w.heartbeatAt),
    }))
    return ok({ workers })
  }

  async workerAction(name: string, action: string, body: unknown): Promise<Reply> {
    const c = await this.coordination()
    if (!c) throw new BadRequest('this broker has no coordination part: workers cannot be controlled')
    let args: Record<string, unknown> = {}
    if (action === 'pool-grow' || action === 'pool-shrink') {
      const n = (body as { n?: unknown } | null)?.n ?? 1
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw new BadRequest(`${action} takes "n", a positive whole number`)
      args = { n }
    } else if (action !== 'shutdown')
      throw new BadRequest(`unknown worker action "${action}": shutdown, pool-grow or pool-shrink`)
    const replies = await request(c, action, { destination: [name], timeoutMs: 3000, args })
    const reply = replies[0]
    if (!reply) return { status: 504, body: { error: `worker ${name} did not reply within 3 s` } }
    return reply.ok
      ? ok({ worker: name, result: reply.result })
      : { status: 409, body: { error: reply.error } }
  }

  async tasks(q: URLSearchParams): Promise<Reply> {
    const c = await this.coordination()
    const limit = limitOf(q.get('limit'), 100, 1000)
    const filters = {
      state: q.get('state') || undefined,
      task: q.get('task') || undefined,
      worker: q.get('worker') || undefined,
      queue: q.get('queue') || undefined,
      id: q.get('id')?.trim() || undefined,
      limit,
    }
    const rows = c ? foldTasks((await readLog(c)).events) : []
    const { rows: tasks, total } = filterTasks(rows, filters)
    // An id the log does not hold (older, or sent to no worker yet) may still have a record.
    if (filters.id && !tasks.length) {
      const store = await this.app.resultStore()
      const [record] = store ? await store.get([filters.id]) : [null]
      if (record)
        tasks.push({
          id: record.id,
          task: record.task,
          state: record.state,
          queue: null,
          worker: record.worker ?? '',
          retries: record.retries,
          receivedAt: null,
          startedAt: record.startedAt,
          updatedAt: record.updatedAt,
          runtimeMs: null,
          reason: null,
        })
    }
    return ok({
      tasks,
      total,
      names: [...new Set(rows.map((r) => r.task).filter((t): t is string => t !== null))].sort(),
      workers: [...new Set(rows.map((r) => r.worker))].sort(),
    })
  }

  async task(id: string): Promise<Reply> {
    const store = await this.app.resultStore()
    const c = await this.coordination()
    const [[record], log] = await Promise.all([
      store ? store.get([id]) : Promise.resolve([null]),
      c ? readLog(c) : Promise.resolve({ events: [] }),
    ])
    const detail = taskDetail(id, record ?? null, log.events)
    // Like Celery's AsyncResult, an id nothing has reported yet is PENDING: it may be waiting in a
    // queue (and can be revoked before it runs), or be unknown.
    return ok({ ...detail, seen: Boolean(record) || detail.events.length > 0 })
  }

  async revoke(id: string, body: unknown): Promise<Reply> {
    const terminate = (body as { terminate?: unknown } | null)?.terminate === true
    await this.app.revoke([id], { terminate })
    return ok({ revoked: id, terminate })
  }

  async dead(q: URLSearchParams): Promise<Reply> {
    const broker = await this.app.broker()
    const limit = limitOf(q.get('limit'), 50, 500)
    const offset = offsetOf(q.get('offset'))
    const queue = q.get('queue') || undefined
    const jobs = await broker.listDead({ queue, limit, offset })
    return ok({
      dead: jobs.map((d) => {
        let task: string | null = null
        let args: unknown
        try {
          const m = decodeMessage(d.body)
          task = m.task
          args = toJsonSafe([m.args, m.kwargs])
        } catch {
          args = { undecodable: d.body.slice(0, 4096) }
        }
        return {
          id: d.id,
          queue: d.queue,
          reason: d.reason,
          failedAt: d.failedAt,
          deliveries: d.deliveries,
          task,
          args,
        }
      }),
      limit,
      offset,
    })
  }

  async deadAction(action: string, body: unknown): Promise<Reply> {
    const chosen = ids(body)
    if (action === 'replay') return ok({ replayed: await this.app.replayDead(chosen) })
    if (action === 'delete') return ok({ deleted: await (await this.app.broker()).deleteDead(chosen) })
    throw new BadRequest(`unknown dead-letter action "${action}": replay or delete`)
  }
}
