/**
 * The task events route shared by the Fastify, Hono and Express integrations: `GET
 * /tasks/:id/events` streams a task's state and progress as server-sent events until it is ready.
 * Framework-independent like the status route: `taskEvents()` checks the id, reads the record and
 * asks `authorize` exactly as `taskStatus()` does (same 400/404/503 JSON answers), then hands back
 * a `TaskEventStream` of SSE text that each integration only writes out.
 *
 * On the stream:
 * - a `message` event (the default type) on each change of state or progress, whose data is the
 *   status body of `GET /tasks/:id` (with `progress` while the task runs), shaped by `serialize`
 *   and `hideErrorMessages` as there;
 * - after the message of a ready state, an `end` event with the same data: the client closes
 *   (a browser's EventSource would otherwise connect again);
 * - `unavailable` (data: the 503 body) when the store cannot be read any more, and `failed` (the
 *   500 body) when a record cannot be decoded; the stream ends after either;
 * - a comment line every `heartbeat`, so proxies do not close an idle stream.
 *
 * A stream ends when the task is ready, when the client goes away (the integration calls
 * `close()`), when the server starts closing (the background runner's shutdown, Fastify's
 * preClose, or `signal`), or on an error above. Ending stops the follow: no subscription, timer
 * or read outlives it.
 */
import type { ResultRecord } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { toMs, type Duration } from '../core/duration.js'
import type { BackgroundRunner } from './background.js'
import {
  answer,
  invalid,
  logFailure,
  STATUS_FAILED,
  STORE_UNAVAILABLE,
  statusBody,
  TASK_NOT_FOUND,
  type TaskStatusAnswer,
  type TaskStatusOptions,
} from './status.js'
import { checkTaskId, InvalidTaskIdError, parseIdSegment } from './task-id.js'

/** Options of the events route, under the status routes' `events` option. */
export interface TaskEventsOptions {
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  readonly heartbeat?: Duration
  /** How long a browser waits before connecting again after the stream broke (default 3 s). */
  readonly retry?: Duration
  /** How often the record is read when nothing announced a change (see `AsyncResult.follow`). */
  readonly pollInterval?: Duration
  /**
   * The background-tasks tracker (the Hono/Express middleware, or its `runner`): open streams end
   * as soon as its shutdown starts, so they never hold a closing server. Fastify's plugin ends
   * them in its own `preClose` hook and needs none.
   */
  readonly background?: BackgroundRunner | { readonly runner: BackgroundRunner }
  /** Ends every open stream when aborted (for servers closed some other way). */
  readonly signal?: AbortSignal
}

/** The headers of an event stream: never cached or buffered by a proxy, never sniffed. */
export const TASK_EVENTS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-accel-buffering': 'no',
})

/** What the events route sends: a stream, or the JSON answer the status route gives for that id. */
export type TaskEventsAnswer =
  | {
      readonly status: 200
      readonly headers: Readonly<Record<string, string>>
      readonly stream: TaskEventStream
    }
  | Extract<TaskStatusAnswer, { status: 400 | 404 | 500 | 503 }>

/** Chunks waiting for a slow client beyond this are dropped, oldest first (each is a whole event). */
const MAX_QUEUED = 256

let open = 0

/** Event streams open in this process (for tests and metrics). */
export function openTaskEventStreams(): number {
  return open
}

/**
 * SSE text, chunk by chunk (each a whole event). Iterate it once; `close()` ends it at any time,
 * and whatever is awaiting the next chunk gets the end at once.
 */
export class TaskEventStream implements AsyncIterable<string> {
  private readonly queue: string[] = []
  private waiting: ((r: IteratorResult<string>) => void) | null = null
  private ended = false
  private readonly stop = new AbortController()
  private readonly cleanups: (() => void)[] = []

  /** @internal Built by `taskEvents`. */
  constructor() {
    open++
  }

  /** Aborted when the stream ends, whatever ended it. */
  get signal(): AbortSignal {
    return this.stop.signal
  }

  /** @internal */
  push(chunk: string): void {
    if (this.ended) return
    if (this.waiting) {
      const w = this.waiting
      this.waiting = null
      w({ value: chunk, done: false })
      return
    }
    if (this.queue.length >= MAX_QUEUED) this.queue.shift()
    this.queue.push(chunk)
  }

  /** @internal Runs `fn` when the stream ends. */
  onEnd(fn: () => void): void {
    if (this.ended) fn()
    else this.cleanups.push(fn)
  }

  /** Ends the stream: what is queued is still given out, then the end. Idempotent. */
  close(): void {
    if (this.ended) return
    this.ended = true
    open--
    this.stop.abort()
    for (const fn of this.cleanups.splice(0)) fn()
    if (this.waiting && !this.queue.length) {
      const w = this.waiting
      this.waiting = null
      w({ value: undefined, done: true })
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    return {
      next: () => {
        const chunk = this.queue.shift()
        if (chunk !== undefined) return Promise.resolve({ value: chunk, done: false })
        if (this.ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => (this.waiting = resolve))
      },
      return: () => {
        this.close()
        this.queue.length = 0
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }
}

function sse(data: string, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${data}\n\n`
}

function runnerOf(o: TaskEventsOptions['background']): BackgroundRunner | undefined {
  if (!o) return undefined
  return 'runner' in o ? o.runner : o
}

function eventsOptions<Req>(options: TaskStatusOptions<Req>): TaskEventsOptions {
  return typeof options.events === 'object' ? options.events : {}
}

/**
 * Checks the id, reads the record and asks `authorize` as `taskStatus` does, then starts the
 * stream. `req` goes to the hooks; `extraEnd` (the integration's own shutdown hook) also ends it.
 *
 * @example
 * api.get('/me/tasks/:id/events', async (req, res) => {
 *   const a = await taskEvents(app, req.params.id, { hideErrorMessages: true }, req)
 *   if (a.status !== 200) return res.status(a.status).set(a.headers).send(a.json)
 *   res.writeHead(200, a.headers)
 *   res.on('close', () => a.stream.close())
 *   for await (const chunk of a.stream) res.write(chunk)
 *   res.end()
 * })
 */
export async function taskEvents<Req>(
  app: App,
  id: unknown,
  options: TaskStatusOptions<Req> = {},
  req?: Req,
): Promise<TaskEventsAnswer> {
  try {
    checkTaskId(id)
  } catch (err) {
    if (err instanceof InvalidTaskIdError) return invalid(err) as TaskEventsAnswer
    throw err
  }
  let rec: ResultRecord | null
  try {
    rec = await app.asyncResult(id).record()
  } catch (err) {
    logFailure(options, err, id, 'task events: the result store cannot be read')
    return answer(503, STORE_UNAVAILABLE) as TaskEventsAnswer
  }
  if (options.authorize && !(await options.authorize(req as Req, rec, id)))
    return answer(404, TASK_NOT_FOUND) as TaskEventsAnswer
  const stream = new TaskEventStream()
  const o = eventsOptions(options)
  const heartbeatMs = toMs(o.heartbeat ?? 15_000, 'heartbeat')
  const retryMs = toMs(o.retry ?? 3000, 'retry')
  stream.push(`retry: ${retryMs}\n\n`)
  const beat = setInterval(() => stream.push(': keep-alive\n\n'), Math.max(10, heartbeatMs))
  beat.unref?.()
  stream.onEnd(() => clearInterval(beat))
  const runner = runnerOf(o.background)
  if (runner) stream.onEnd(runner.shutdown.onClosing(() => stream.close()))
  if (o.signal) {
    const signal = o.signal
    const end = (): void => stream.close()
    if (signal.aborted) stream.close()
    signal.addEventListener('abort', end, { once: true })
    stream.onEnd(() => signal.removeEventListener('abort', end))
  }
  void follow(app, id, options, req, stream, o)
  return { status: 200, headers: TASK_EVENTS_HEADERS, stream }
}

async function follow<Req>(
  app: App,
  id: string,
  options: TaskStatusOptions<Req>,
  req: Req | undefined,
  stream: TaskEventStream,
  o: TaskEventsOptions,
): Promise<void> {
  try {
    const updates = app.asyncResult(id).follow({ signal: stream.signal, pollInterval: o.pollInterval })
    for await (const u of updates) {
      let json: string
      try {
        const body = statusBody(id, u.record, options)
        const shaped = options.serialize ? await options.serialize(body, req as Req, u.record) : body
        json = JSON.stringify(shaped) ?? 'null'
      } catch (err) {
        logFailure(options, err, id, 'task events: the stored record cannot be decoded')
        stream.push(sse(JSON.stringify(STATUS_FAILED), 'failed'))
        return
      }
      stream.push(sse(json))
      if (u.ready) {
        stream.push(sse(json, 'end'))
        return
      }
    }
  } catch (err) {
    if (!stream.signal.aborted) {
      logFailure(options, err, id, 'task events: the result store cannot be read')
      stream.push(sse(JSON.stringify(STORE_UNAVAILABLE), 'unavailable'))
    }
  } finally {
    stream.close()
  }
}

/**
 * The events route's answer for a raw (still percent-encoded) id segment, or null when the URL is
 * not the route's; see `answerSegment`.
 */
export async function eventsForSegment<Req>(
  app: App,
  raw: string,
  options: TaskStatusOptions<Req>,
  req: Req,
): Promise<TaskEventsAnswer | null> {
  if (options.events === false) return null
  const parsed = parseIdSegment(raw)
  if (parsed.kind === 'not-ours') return null
  if (parsed.kind === 'invalid') return invalid(parsed.error) as TaskEventsAnswer
  return taskEvents(app, parsed.id, options, req)
}

/** The part of a Node response an integration writes a stream to. */
export interface NodeResponseLike {
  readonly destroyed?: boolean
  writeHead(status: number, headers: Record<string, string>): unknown
  write(chunk: string): boolean
  end(): unknown
  once(event: 'close' | 'drain', listener: () => void): unknown
  flushHeaders?(): void
}

/**
 * Writes a stream to a Node response (Express, and Fastify after `hijack`): the stream ends when
 * the client goes away, and waits for `drain` when the client reads slowly.
 */
export async function pipeToNode(stream: TaskEventStream, res: NodeResponseLike): Promise<void> {
  res.writeHead(200, { ...TASK_EVENTS_HEADERS })
  res.flushHeaders?.()
  res.once('close', () => stream.close())
  for await (const chunk of stream) {
    if (res.destroyed) break
    if (!res.write(chunk))
      await new Promise<void>((resolve) => {
        res.once('drain', resolve)
        res.once('close', resolve)
      })
  }
  stream.close()
  if (!res.destroyed) res.end()
}
