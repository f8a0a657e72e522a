/**
 * `celeriac/fastify`: in-request background tasks (`request.background`) and the task status
 * route, as Fastify plugins. Fastify is an optional peer dependency and only its types are
 * imported here.
 */
import { Readable } from 'node:stream'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { App } from '../core/app.js'
import { BackgroundRunner, BackgroundTasks, consoleLogger, type BackgroundOptions } from './background.js'
import { eventsForSegment, type TaskEventStream } from './events.js'
import { holdToDeadline, type HeldServer } from './server.js'
import {
  answerSegment,
  DEFAULT_STATUS_PREFIX,
  invalidSegmentAnswer,
  type TaskStatusOptions,
} from './status.js'
import { normalizePrefix, rawPath } from './task-id.js'

export * from './shared-exports.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Functions to run after this request's response has been sent (celeriac). */
    background: BackgroundTasks
  }
  interface FastifyInstance {
    /** The tracker of all background work, for `drain()` (celeriac). */
    celeriacBackground: BackgroundRunner
  }
}

/** Options of `backgroundTasks`; the logger defaults to Fastify's own when enabled, else the console. */
export type FastifyBackgroundOptions = BackgroundOptions

/** Options of `taskStatusRoutes`: the app to read results from, plus the route options. */
export interface FastifyTaskStatusOptions extends TaskStatusOptions<FastifyRequest> {
  readonly app: App
}

/** Does what the fastify-plugin package does: no encapsulation, so decorators and hooks apply app-wide. */
function shareScope<T extends object>(plugin: T, name: string): T {
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true })
  Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: name })
  Object.defineProperty(plugin, Symbol.for('plugin-meta'), { value: { name, fastify: '5.x' } })
  return plugin
}

/**
 * The background-tasks plugin. Functions added to `request.background` run after the response
 * has been sent (`onResponse`, or when the connection closes early); `fastify.close()` waits for
 * them up to `shutdownTimeout` (default 30 s).
 *
 * @example
 * import Fastify from 'fastify'
 * import { backgroundTasks } from 'celeriac/fastify'
 *
 * const server = Fastify({ logger: true })
 * await server.register(backgroundTasks, { shutdownTimeout: '10s' })
 * server.post('/users', async (req) => {
 *   const user = await db.createUser(req.body)
 *   req.background.add(audit, 'user.created', user.id)
 *   return { id: user.id }
 * })
 */
export const backgroundTasks: FastifyPluginAsync<FastifyBackgroundOptions> = shareScope(
  async (fastify, opts) => {
    // With `logger: false` Fastify's logger drops everything; failures must not vanish.
    const fastifyLogs = typeof (fastify.log as { level?: unknown }).level === 'string'
    const runner = new BackgroundRunner({
      ...opts,
      logger: opts.logger ?? (fastifyLogs ? fastify.log : consoleLogger),
    })
    fastify.decorate('celeriacBackground', runner)
    fastify.decorateRequest('background', null as unknown as BackgroundTasks)
    fastify.addHook('onRequest', (request, reply, done) => {
      const tasks = runner.create(reply.raw)
      request.background = tasks
      // onResponse does not run when the client goes away first; the functions still run then.
      reply.raw.once('close', () => tasks.start())
      done()
    })
    fastify.addHook('onResponse', (request, _reply, done) => {
      request.background?.start()
      done()
    })
    // Fastify closes its server before the onClose hooks, and that waits for keep-alive
    // connections (72 s by default): the limit has to start here, before the server closes.
    let held: HeldServer | null = null
    fastify.addHook('preClose', async () => {
      runner.beginShutdown()
      held = holdToDeadline(fastify.server, runner)
    })
    fastify.addHook('onClose', async () => {
      held?.stop()
      runner.endShutdown(held?.requestsCut ?? 0, await runner.drain())
    })
  },
  'celeriac-background',
)

/**
 * The task status route: `GET /tasks/:id` answers `{ id, state, progress?, result?, error?,
 * retries, task, startedAt, doneAt, updatedAt }` (see `taskStatus` for the other answers and the
 * hooks), and `GET /tasks/:id/events` streams the same as server-sent events until the task is
 * ready (see `taskEvents`; `events: false` leaves it out). Streams end when Fastify closes.
 * Fastify's own `prefix` option moves it (`{ prefix: '/jobs' }` gives `GET /jobs/:id`). Ids up
 * to 200 characters are accepted (longer than Fastify's maxParamLength); an unknown id answers
 * PENDING. Store errors are logged to Fastify's logger when it is enabled, else the console.
 *
 * @example
 * import { taskStatusRoutes } from 'celeriac/fastify'
 * await server.register(taskStatusRoutes, { app })                      // GET /tasks/:id
 * await server.register(taskStatusRoutes, { app, prefix: '/api/jobs' }) // GET /api/jobs/:id
 * await server.register(taskStatusRoutes, { app, hideErrorMessages: true, authorize: (req, rec) => … })
 */
export const taskStatusRoutes: FastifyPluginAsync<FastifyTaskStatusOptions> = async (fastify, opts) => {
  // Fastify applies `opts.prefix` to the routes below by itself.
  const base = opts.prefix === undefined ? DEFAULT_STATUS_PREFIX : ''
  const atRoot = fastify.prefix + base === ''
  const fastifyLogs = typeof (fastify.log as { level?: unknown }).level === 'string'
  // Event streams end when the server starts closing, so they never hold it open.
  const streams = new Set<TaskEventStream>()
  fastify.addHook('preClose', async () => {
    for (const s of streams) s.close()
  })
  // A wildcard, not `:id`: Fastify answers 404 to params over maxParamLength (100 by default).
  fastify.get(`${base}/*`, async (request, reply) => {
    const wildcard = (request.params as { '*': string })['*']
    // Ids are read from the raw URL, as on the other frameworks; the decoded wildcard only tells
    // a literal '/' (another URL: 404) from an encoded one (part of the id).
    const segments = rawPath(request.url).split('/')
    const raw = segments.pop() ?? ''
    const options = { ...opts, logger: opts.logger ?? (fastifyLogs ? request.log : undefined) }
    const idRaw = segments.pop() ?? ''
    if (raw === 'events' && opts.events !== false && `${safeDecode(idRaw)}/events` === wildcard) {
      const events = await eventsForSegment(opts.app, idRaw, options, request)
      if (!events) return reply.callNotFound()
      if (events.status !== 200) return reply.code(events.status).headers(events.headers).send(events.json)
      const stream = events.stream
      streams.add(stream)
      stream.onEnd(() => streams.delete(stream))
      reply.raw.once('close', () => stream.close())
      return reply.code(200).headers(events.headers).send(Readable.from(stream))
    }
    if (safeDecode(raw) !== wildcard) return reply.callNotFound()
    const answer = await answerSegment(opts.app, raw, options, request, atRoot)
    if (!answer) return reply.callNotFound()
    return reply.code(answer.status).headers(answer.headers).send(answer.json)
  })
}

function safeDecode(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/**
 * Fastify's `frameworkErrors` option for apps that mount the status routes: Fastify refuses a URL
 * with a malformed %-escape before any route or hook runs, so without it `/tasks/%zz` gets
 * Fastify's own 400 rather than the one Hono and Express give. Other framework errors keep
 * Fastify's answer.
 *
 * @example
 * const server = Fastify({ frameworkErrors: taskStatusFrameworkErrors() })
 * await server.register(taskStatusRoutes, { app })
 */
export function taskStatusFrameworkErrors(
  prefixes: readonly string[] = [DEFAULT_STATUS_PREFIX],
): (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => void {
  const bases = prefixes.map((p) => `${normalizePrefix(p)}/`)
  return (error, req, reply) => {
    if (error.code === 'FST_ERR_BAD_URL') {
      // `<base>/<id>` or `<base>/<id>/events`.
      const path = rawPath(req.raw.url ?? '').replace(/(?<=.)\/events$/, '')
      const base = bases.find((b) => path.startsWith(b) && !path.slice(b.length).includes('/'))
      const answer = base === undefined ? null : invalidSegmentAnswer(path.slice(base.length))
      if (answer) {
        void reply.code(answer.status).headers(answer.headers).send(answer.json)
        return
      }
    }
    void reply.code(error.statusCode ?? 400).send(error)
  }
}
