/**
 * `celeriac/express`: in-request background tasks (`req.background`) and the task status route
 * for Express 5. Express is an optional peer dependency.
 */
import { Router, type Request, type RequestHandler } from 'express'
import type { App } from '../core/app.js'
import { BackgroundRunner, BackgroundTasks, type BackgroundOptions } from './background.js'
import { eventsForSegment, pipeToNode } from './events.js'
import { withShutdown, type ShutdownHelpers } from './server.js'
import { answerSegment, normalizePrefix, type TaskStatusOptions } from './status.js'
import { rawPath } from './task-id.js'

export * from './shared-exports.js'
export { closeServer, type ClosableServer } from './server.js'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own way to extend Request
  namespace Express {
    interface Request {
      /** Functions to run after this request's response has been sent (celeriac). */
      background: BackgroundTasks
    }
  }
}

/** The middleware, with the tracker and shutdown helpers attached. */
export interface ExpressBackground extends RequestHandler, ShutdownHelpers {}

/**
 * The background-tasks middleware. Functions added with `req.background.add(fn, ...args)` run
 * once the response has finished (or the connection closed first), in order.
 *
 * @example
 * import express from 'express'
 * import { backgroundTasks } from 'celeriac/express'
 *
 * const bg = backgroundTasks({ shutdownTimeout: '10s' })
 * const api = express()
 * api.use(bg)
 * api.post('/users', async (req, res) => {
 *   const user = await db.createUser(req.body)
 *   req.background.add(audit, 'user.created', user.id)
 *   res.json({ id: user.id })
 * })
 * const server = api.listen(3000)
 * process.once('SIGTERM', async () => process.exit((await bg.close(server)) ? 0 : 1))
 */
export function backgroundTasks(options: BackgroundOptions = {}): ExpressBackground {
  const runner = new BackgroundRunner(options)
  const middleware: RequestHandler = (req, res, next) => {
    const tasks = runner.create(res)
    req.background = tasks
    const start = (): void => tasks.start()
    res.once('finish', start)
    res.once('close', start)
    next()
  }
  return withShutdown(middleware, runner)
}

/**
 * The task status route as an Express router: `GET /tasks/:id` (prefix configurable) answers
 * `{ id, state, progress?, result?, error?, retries, task, startedAt, doneAt, updatedAt }`; an
 * unknown id answers PENDING, a malformed one 400 (see `taskStatus` for the other answers and the
 * hooks). `GET /tasks/:id/events` streams the same as server-sent events until the task is ready
 * (see `taskEvents`); pass `events: { background }` (the background middleware) so that streams
 * end when the server starts closing.
 *
 * @example
 * import { taskStatusRouter } from 'celeriac/express'
 * api.use(taskStatusRouter(app))                      // GET /tasks/:id
 * api.use(taskStatusRouter(app, { prefix: '/jobs' })) // GET /jobs/:id
 */
export function taskStatusRouter(app: App, options: TaskStatusOptions<Request> = {}): Router {
  const prefix = normalizePrefix(options.prefix)
  const router = Router()
  // Not `/:id`: Express decodes params itself and answers a malformed escape with an HTML page
  // and a stack. The id is read from the raw URL below the mount point, as on the other frameworks.
  const handler: RequestHandler = async (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next()
    const segments = rawPath(req.url).split('/')
    if (segments.length === 3 && segments[2] === 'events' && options.events !== false) {
      if (req.method !== 'GET') return next()
      const events = await eventsForSegment(app, segments[1]!, options, req)
      if (!events) return next()
      if (events.status !== 200) return void res.status(events.status).set(events.headers).send(events.json)
      return pipeToNode(events.stream, res)
    }
    if (segments.length !== 2) return next()
    // The mount point matches `/tasks` too; like the other frameworks, only `/tasks/` is ours.
    if (segments[1] === '' && !rawPath(req.originalUrl).endsWith('/')) return next()
    const answer = await answerSegment(app, segments[1]!, options, req, prefix === '')
    if (!answer) return next()
    res.status(answer.status).set(answer.headers).send(answer.json)
  }
  if (prefix === '') router.use(handler)
  else router.use(prefix, handler)
  return router
}
