/**
 * `celeriac/hono`: in-request background tasks (`c.get('background')`) and the task status route
 * for Hono. Hono is an optional peer dependency.
 *
 * When the work starts: on Node (@hono/node-server) when the Node response has finished; where
 * the runtime gives an ExecutionContext (Cloudflare Workers and the like) on the next macrotask
 * after the handler returned, kept alive with `waitUntil`; elsewhere on the next macrotask.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { App } from '../core/app.js'
import { BackgroundRunner, BackgroundTasks, type BackgroundOptions } from './background.js'
import { eventsForSegment, type TaskEventStream } from './events.js'
import { withShutdown, type ShutdownHelpers } from './server.js'
import { answerSegment, normalizePrefix, type TaskStatusOptions } from './status.js'
import { rawPath } from './task-id.js'

export * from './shared-exports.js'
export { closeServer, type ClosableServer } from './server.js'

declare module 'hono' {
  interface ContextVariableMap {
    /** Functions to run after this request's response has been sent (celeriac). */
    background: BackgroundTasks
  }
}

/** The Env the middleware adds to: `new Hono<BackgroundEnv>()` types `c.get('background')` explicitly. */
export type BackgroundEnv = { Variables: { background: BackgroundTasks } }

/** The middleware, with the tracker and shutdown helpers attached. */
export interface HonoBackground extends MiddlewareHandler<BackgroundEnv>, ShutdownHelpers {}

interface NodeResponseLike {
  readonly writableFinished: boolean
  readonly headersSent: boolean
  setHeader(name: string, value: string): unknown
  once(event: 'finish' | 'close', listener: () => void): unknown
}

function nodeResponse(env: unknown): NodeResponseLike | null {
  const out = (env as { outgoing?: Partial<NodeResponseLike> } | undefined)?.outgoing
  return out && typeof out.once === 'function' && typeof out.writableFinished === 'boolean'
    ? (out as NodeResponseLike)
    : null
}

function waitUntilOf(c: Context): ((p: Promise<unknown>) => void) | null {
  try {
    const ctx = c.executionCtx
    return typeof ctx.waitUntil === 'function' ? (p) => ctx.waitUntil(p) : null
  } catch {
    return null // the getter throws where the runtime has no ExecutionContext
  }
}

/**
 * On Node, listens on the response from the start, as the other integrations do: a client that
 * goes away while the handler runs emits 'close' before the handler returns, and a listener added
 * after it would never hear it (the functions would never run, the request never end).
 */
function startWithResponse(out: NodeResponseLike, tasks: BackgroundTasks): void {
  const start = (): void => tasks.start()
  out.once('finish', start)
  out.once('close', start)
}

/** Elsewhere: on a later macrotask, kept alive by the ExecutionContext where there is one. */
function startLater(c: Context, tasks: BackgroundTasks): void {
  tasks.start({ later: true })
  waitUntilOf(c)?.(tasks.idle())
}

/**
 * The background-tasks middleware. Functions added with `c.get('background').add(fn, ...args)`
 * run after the response, in order; `drain()`/`close(server)` wait for them on shutdown.
 *
 * @example
 * import { Hono } from 'hono'
 * import { serve } from '@hono/node-server'
 * import { backgroundTasks } from 'celeriac/hono'
 *
 * const bg = backgroundTasks({ shutdownTimeout: '10s' })
 * const api = new Hono()
 * api.use(bg)
 * api.post('/users', async (c) => {
 *   const user = await db.createUser(await c.req.json())
 *   c.get('background').add(audit, 'user.created', user.id)
 *   return c.json({ id: user.id })
 * })
 * const server = serve({ fetch: api.fetch, port: 3000 })
 * process.once('SIGTERM', async () => process.exit((await bg.close(server)) ? 0 : 1))
 */
export function backgroundTasks(options: BackgroundOptions = {}): HonoBackground {
  const runner = new BackgroundRunner(options)
  const middleware: MiddlewareHandler<BackgroundEnv> = async (c, next) => {
    const out = nodeResponse(c.env)
    const tasks = runner.create(out ?? undefined)
    c.set('background', tasks)
    if (out) startWithResponse(out, tasks)
    try {
      await next()
    } finally {
      if (!out) startLater(c, tasks)
    }
  }
  return withShutdown(middleware, runner)
}

/**
 * The task status route as a Hono sub-app: `GET /tasks/:id` (prefix configurable) answers
 * `{ id, state, progress?, result?, error?, retries, task, startedAt, doneAt, updatedAt }`; an
 * unknown id answers PENDING, a malformed one 400 (see `taskStatus` for the other answers and the
 * hooks, which receive the Context as `req`). `GET /tasks/:id/events` streams the same as
 * server-sent events until the task is ready (see `taskEvents`); pass `events: { background }`
 * (the background middleware) so that streams end when the server starts closing.
 *
 * @example
 * import { taskStatusRoutes } from 'celeriac/hono'
 * api.route('/', taskStatusRoutes(app))                      // GET /tasks/:id
 * api.route('/', taskStatusRoutes(app, { prefix: '/jobs' })) // GET /jobs/:id
 */
export function taskStatusRoutes(app: App, options: TaskStatusOptions<Context> = {}): Hono {
  const prefix = normalizePrefix(options.prefix)
  const routes = new Hono()
  // Hono's param would be decoded already (and kept raw when malformed): read the raw URL instead,
  // as the other frameworks do. `:id` matches one segment, so it is the last one.
  const handle = async (c: Context): Promise<Response> => {
    const raw = rawPath(c.req.url).split('/').pop() ?? ''
    const answer = await answerSegment(app, raw, options, c, prefix === '')
    if (!answer) return c.notFound()
    return c.body(answer.json, answer.status, answer.headers)
  }
  routes.get(`${prefix}/:id`, handle)
  if (prefix !== '') routes.get(`${prefix}/`, handle)
  if (options.events !== false)
    routes.get(`${prefix}/:id/events`, async (c) => {
      const raw = rawPath(c.req.url).split('/').slice(-2)[0] ?? ''
      const answer = await eventsForSegment(app, raw, options, c)
      if (!answer) return c.notFound()
      if (answer.status !== 200) return c.body(answer.json, answer.status, answer.headers)
      return c.body(webStream(answer.stream, c), 200, answer.headers)
    })
  return routes
}

/** The stream as a web ReadableStream that ends it when the client goes away. */
function webStream(stream: TaskEventStream, c: Context): ReadableStream<Uint8Array> {
  const end = (): void => stream.close()
  c.req.raw.signal?.addEventListener('abort', end, { once: true })
  nodeResponse(c.env)?.once('close', end)
  const chunks = stream[Symbol.asyncIterator]()
  const encoder = new TextEncoder()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next()
      if (next.done) controller.close()
      else controller.enqueue(encoder.encode(next.value))
    },
    cancel: end,
  })
}
