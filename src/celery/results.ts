/**
 * The result store part of `celery+redis://`: Celery's Redis result backend format. A task's
 * state is the JSON string at `celery-task-meta-<id>` (`status`, `result`, `traceback`,
 * `children`, `date_done`, `task_id`, plus Celery's extended fields `name`, `retries`,
 * `worker`), published on the channel of the same name when written, as Celery does, so a
 * Python `AsyncResult.get()` wakes up. Results are plain JSON; errors are written as Celery
 * writes exceptions (`exc_type`, `exc_message`), with the stack as `traceback`.
 *
 * Our fence travels in an extra field, `celeriac`, that Celery ignores; Python writes have none.
 */
import type { ForgetOptions, ResultRecord, ResultStore, WaitOptions } from '../contracts/result-store.js'
import { decode, encode, type ErrorShape } from '../core/codec.js'
import { isReady, States, type TaskState } from '../core/states.js'
import { runScripts, type RedisClient } from '../brokers/redis/connection.js'
import type { RedisConnection } from '../brokers/redis/shared.js'
import { setMetas } from './scripts.generated.js'

/** Records written by one script call: large enough to share its cost, small enough not to block Redis. */
const SET_BATCH = 256

export function metaKey(id: string): string {
  return `celery-task-meta-${id}`
}

interface Meta {
  status: string
  result: unknown
  traceback: string | null
  children: unknown[]
  date_done: string | null
  task_id: string
  name?: string | null
  retries?: number | null
  worker?: string | null
  celeriac?: { fence: number | null; startedAt: number | null }
}

/** Celery's naive UTC ISO time. */
function celeryTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '')
}

function toMeta(r: ResultRecord): Meta {
  let result: unknown = null
  let traceback: string | null = null
  if (r.error !== null && r.state !== 'SUCCESS') {
    const e = decode(r.error) as ErrorShape | Error
    const name = String(e.name || 'Error').replace(/[^A-Za-z0-9_]/g, '_')
    result = { exc_type: name, exc_message: [String(e.message ?? '')] }
    traceback = typeof e.stack === 'string' ? e.stack : null
  } else if (r.result !== null) {
    result = decode(r.result)
  }
  return {
    status: r.state,
    result,
    traceback,
    children: [],
    date_done: r.doneAt === null ? null : celeryTime(r.doneAt),
    task_id: r.id,
    name: r.task,
    retries: r.retries,
    worker: r.worker,
    celeriac: { fence: r.fence, startedAt: r.startedAt },
  }
}

const STATES = new Set<string>(Object.values(States))

function fromMeta(id: string, text: string): ResultRecord {
  let m: Partial<Meta>
  try {
    m = JSON.parse(text) as Partial<Meta>
  } catch {
    m = { status: 'FAILURE', result: { exc_type: 'MalformedResult', exc_message: ['not JSON'] } }
  }
  const state = (STATES.has(String(m.status)) ? m.status : 'PENDING') as TaskState
  let result: string | null = null
  let error: string | null = null
  if (state === 'FAILURE' || state === 'RETRY' || state === 'REVOKED') {
    const exc = (m.result ?? {}) as { exc_type?: unknown; exc_message?: unknown }
    const msg = Array.isArray(exc.exc_message)
      ? exc.exc_message.map(String).join(', ')
      : String(exc.exc_message ?? '')
    const err = new Error(msg)
    err.name = typeof exc.exc_type === 'string' ? exc.exc_type : 'Error'
    err.stack = typeof m.traceback === 'string' ? m.traceback : `${err.name}: ${msg}`
    error = encode(err)
  } else if (m.result !== undefined && m.result !== null) {
    result = encode(m.result)
  }
  const done =
    typeof m.date_done === 'string'
      ? Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(m.date_done) ? m.date_done : `${m.date_done}Z`)
      : NaN
  const doneAt = Number.isNaN(done) ? null : done
  return {
    id,
    state,
    task: typeof m.name === 'string' ? m.name : null,
    result,
    error,
    retries: typeof m.retries === 'number' ? m.retries : 0,
    worker: typeof m.worker === 'string' ? m.worker : null,
    startedAt: m.celeriac?.startedAt ?? null,
    doneAt,
    updatedAt: doneAt ?? Date.now(),
    expiresAt: null,
    fence: m.celeriac?.fence ?? null,
  }
}

export class CeleryRedisResultStore implements ResultStore {
  readonly scheme = 'celery+redis'

  constructor(private readonly conn: RedisConnection) {}

  connect(): Promise<void> {
    return this.conn.connect()
  }

  async close(): Promise<void> {}

  private get redis(): RedisClient {
    return this.conn.redis('the celery+redis result store')
  }

  /** One script call per batch of records (a per-record call costs Redis 3–4× more a record). */
  async set(records: readonly ResultRecord[]): Promise<void> {
    if (!records.length) return
    const now = Date.now()
    const calls = []
    for (let i = 0; i < records.length; i += SET_BATCH) {
      const batch = records.slice(i, i + SET_BATCH)
      calls.push({
        script: setMetas,
        keys: batch.map((r) => metaKey(r.id)),
        args: batch.flatMap((r) => [
          JSON.stringify(toMeta(r)),
          r.fence === null ? '' : String(r.fence),
          isReady(r.state) ? '1' : '0',
          r.expiresAt === null ? '' : String(Math.max(1, r.expiresAt - now)),
        ]),
      })
    }
    await runScripts(this.redis, calls)
  }

  async get(ids: readonly string[]): Promise<(ResultRecord | null)[]> {
    if (!ids.length) return []
    const values = await this.redis.mget(...ids.map(metaKey))
    return ids.map((id, i) => (values[i] == null ? null : fromMeta(id, values[i]!)))
  }

  /** Polls (50 ms to 250 ms apart) until ready, the timeout or the signal. */
  async wait(id: string, options: WaitOptions): Promise<ResultRecord | null> {
    const deadline = Date.now() + (options.timeoutMs ?? Infinity)
    let pause = 50
    for (;;) {
      const [r] = await this.get([id])
      if ((r && isReady(r.state)) || Date.now() >= deadline || options.signal?.aborted) return r ?? null
      await new Promise((res) => setTimeout(res, Math.min(pause, Math.max(0, deadline - Date.now()))))
      pause = Math.min(pause * 2, 250)
    }
  }

  /** Deletes the records (fences are not checked in this layout). */
  async forget(ids: readonly string[], _options?: ForgetOptions): Promise<number> {
    return ids.length ? this.redis.del(...ids.map(metaKey)) : 0
  }

  /** Redis expires records by itself. */
  async cleanup(): Promise<number> {
    return 0
  }
}
