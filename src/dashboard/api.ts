/**
 * The dashboard's JSON API as framework-free handlers returning `{ status, body }` (the shape of
 * src/http/status.ts), so the node:http server here, or a later Fastify/Hono/Express mount, only
 * routes to them. Everything is read from the broker, the result store and the coordination
 * part on each call.
 */
import type { Beat } from '../beat/beat.js'
import type { App } from '../core/app.js'
import { canListJobs, type JobState } from '../contracts/broker.js'
import type { Coordination } from '../contracts/coordination.js'
import { workflowTree, type TreeNode } from '../canvas/tree.js'
import { listWorkers, request } from '../control/index.js'
import { CeleriacError } from '../core/errors.js'
import { decodeMessage } from '../core/message.js'
import { toJsonSafe } from '../core/render.js'
import { listRateLimits, setRateLimit, type LimitTarget } from '../flow/overrides.js'
import { filterTasks, taskDetail } from './history.js'
import { TaskIndex } from './task-index.js'

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

function timeOf(v: string | null, what: string): number | undefined {
  if (v === null || v === '') return undefined
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
  if (!Number.isFinite(n)) throw new BadRequest(`${what} must be epoch ms or an ISO date, got "${v}"`)
  return n
}

const STATES: readonly string[] = ['waiting', 'delayed', 'active', 'dead']

/** A stored body as the Queues page shows it: task name and arguments, or the raw text. */
function described(body: string): { task: string | null; args: unknown } {
  try {
    const m = decodeMessage(body)
    return { task: m.task, args: toJsonSafe([m.args, m.kwargs]) }
  } catch {
    return { task: null, args: { undecodable: body.slice(0, 4096) } }
  }
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

  private taskIndex: TaskIndex | null = null
  private indexedFor: Coordination | null = null

  /** The event log folded up to now (read incrementally), or null without a coordination part. */
  async index(): Promise<TaskIndex | null> {
    const c = await this.coordination()
    if (!c) return null
    if (this.indexedFor !== c) {
      this.taskIndex = new TaskIndex(c)
      this.indexedFor = c
    }
    await this.taskIndex!.refresh()
    return this.taskIndex
  }

  async overview(): Promise<Reply> {
    const broker = await this.app.broker()
    const c = await this.coordination()
    const [queues, workers, index] = await Promise.all([
      broker.stats(),
      c ? listWorkers(c) : Promise.resolve([]),
      this.index(),
    ])
    const recent = index?.recent(5 * 60_000) ?? { done: 0, failed: 0 }
    return ok({
      queues,
      workersOnline: workers.filter((w) => w.online).length,
      workers: workers.length,
      finishedLast5m: recent.done,
      failedLast5m: recent.failed,
      // Per queue and minute over the last hour, from the event log (tasks that finished).
      series: index?.series() ?? [],
      events: c !== null,
    })
  }

  async queues(): Promise<Reply> {
    const broker = await this.app.broker()
    return ok({ queues: await broker.stats(), listJobs: canListJobs(broker) })
  }

  /** One page of a queue's jobs in one state; the total is the broker's count for that state. */
  async queueJobs(queue: string, q: URLSearchParams): Promise<Reply> {
    const state = q.get('state') ?? 'waiting'
    if (!STATES.includes(state))
      throw new BadRequest(`state must be waiting, delayed, active or dead, got "${state}"`)
    const limit = limitOf(q.get('limit'), 20, 200)
    const offset = offsetOf(q.get('offset'))
    const broker = await this.app.broker()
    const [stats] = await broker.stats([queue])
    const total = stats ? stats[state as keyof typeof stats] : 0
    const page = { queue, state, total, offset, limit }
    if (state === 'dead') {
      const jobs = await broker.listDead({ queue, limit, offset })
      return ok({
        ...page,
        listable: true,
        jobs: jobs.map((d) => ({
          id: d.id,
          priority: d.priority,
          deliveries: d.deliveries,
          at: d.failedAt,
          reason: d.reason,
          ...described(d.body),
        })),
      })
    }
    if (!canListJobs(broker))
      return ok({
        ...page,
        listable: false,
        jobs: [],
        note: `the ${broker.scheme} broker cannot list ${state} jobs without taking them: only counts are shown`,
      })
    const jobs = await broker.listJobs({ queue, state: state as JobState, limit, offset })
    return ok({
      ...page,
      listable: true,
      jobs: jobs.map((j) => ({
        id: j.id,
        priority: j.priority,
        deliveries: j.deliveries,
        at: j.availableAt,
        reason: null,
        ...described(j.body),
      })),
    })
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

  async rateLimits(): Promise<Reply> {
    const c = await this.coordination()
    if (!c) return ok({ limits: [], note: 'this broker has no coordination part: no run-time rate limits' })
    return ok({ limits: await listRateLimits(c) })
  }

  /**
   * Sets, turns off or clears the run-time rate limit of a task or a queue for every worker (what
   * `celeriac rate-limit` and `celeriac control rate-limit` do). Body: `{ task }` or `{ queue }`,
   * and `rate` (`50/s`, `off`) or `reset: true`.
   */
  async rateLimitAction(body: unknown): Promise<Reply> {
    const c = await this.coordination()
    if (!c) throw new BadRequest('rate limits live in the coordination part, which this broker has not')
    const b = (body ?? {}) as { task?: unknown; queue?: unknown; rate?: unknown; reset?: unknown }
    const target: LimitTarget | null =
      typeof b.task === 'string' && b.task.trim()
        ? { task: b.task.trim() }
        : typeof b.queue === 'string' && b.queue.trim()
          ? { queue: b.queue.trim() }
          : null
    if (!target) throw new BadRequest('give "task" or "queue"')
    if (b.reset === true) {
      await setRateLimit(c, target, null)
      return ok({ ...target, rate: null })
    }
    if (typeof b.rate !== 'string' || !b.rate.trim())
      throw new BadRequest('give "rate" (such as 50/s, 20/m or off) or "reset": true')
    const rate = b.rate.trim()
    try {
      await setRateLimit(c, target, rate === 'off' ? 'off' : rate)
    } catch (err) {
      if (err instanceof CeleriacError || err instanceof RangeError) throw new BadRequest(err.message)
      throw err
    }
    return ok({ ...target, rate })
  }

  async tasks(q: URLSearchParams): Promise<Reply> {
    const limit = limitOf(q.get('limit'), 50, 500)
    const filters = {
      state: q.get('state') || undefined,
      task: q.get('task') || undefined,
      worker: q.get('worker') || undefined,
      queue: q.get('queue') || undefined,
      id: q.get('id')?.trim() || undefined,
      from: timeOf(q.get('from'), 'from'),
      to: timeOf(q.get('to'), 'to'),
      offset: offsetOf(q.get('offset')),
      limit,
    }
    const index = await this.index()
    const { rows: tasks, total } = filterTasks(index ? index.newestFirst() : [], filters)
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
      offset: filters.offset,
      limit,
      ...(index?.choices() ?? { names: [], workers: [], queues: [] }),
    })
  }

  async task(id: string): Promise<Reply> {
    const store = await this.app.resultStore()
    const [[record], index] = await Promise.all([
      store ? store.get([id]) : Promise.resolve([null]),
      this.index(),
    ])
    const detail = taskDetail(id, record ?? null, index?.eventsOf(id) ?? [])
    // Like Celery's AsyncResult, an id nothing has reported yet is PENDING: it may be waiting in a
    // queue (and can be revoked before it runs), or be unknown.
    return ok({ ...detail, seen: Boolean(record) || detail.events.length > 0 })
  }

  /**
   * The workflow the task belongs to (chain steps, group members, chord header and body, link and
   * error callbacks) with each task's state, as `celeriac result` shows it (callbacks that ran with
   * their task's name); `tree: null` when the
   * task is not part of one (or the workflow's shape has expired).
   */
  async taskTree(id: string): Promise<Reply> {
    const tree = await workflowTree(this.app, id)
    if (tree) await this.nameCallbacks(tree)
    return ok({ id, tree })
  }

  /** The shape names no callback's task: a callback that has run says it in its record. */
  private async nameCallbacks(tree: TreeNode): Promise<void> {
    const unnamed: TreeNode[] = []
    const walk = (n: TreeNode): void => {
      if (!n.task && (n.kind === 'link' || n.kind === 'errback')) unnamed.push(n)
      n.children?.forEach(walk)
    }
    walk(tree)
    const store = unnamed.length ? await this.app.resultStore() : null
    if (!store) return
    const records = await store.get(unnamed.map((n) => n.id))
    unnamed.forEach((n, i) => {
      const task = records[i]?.task
      if (task) n.task = task
    })
  }

  async revoke(id: string, body: unknown): Promise<Reply> {
    const terminate = (body as { terminate?: unknown } | null)?.terminate === true
    await this.app.revoke([id], { terminate })
    return ok({ revoked: id, terminate })
  }

  /**
   * "Retry now": a FAILURE whose job is in the dead-letter store goes back to its queue at once,
   * with the same id and the very body it failed with (arguments included, types intact). The
   * event log keeps only a cut preview of arguments, so a task without a dead-letter entry
   * (revoked, or its entry deleted or pruned) is not re-sent from it: the reply says why.
   */
  async retryNow(id: string): Promise<Reply> {
    const moved = await this.app.replayDead([id])
    if (moved) return ok({ retried: id })
    return {
      status: 409,
      body: {
        error: `task ${id} has no dead-letter entry to re-run (only failed tasks that were dead-lettered can be retried, with the body they failed with; it may have been replayed, deleted or pruned already)`,
      },
    }
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
