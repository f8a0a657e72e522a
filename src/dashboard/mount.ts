/**
 * Mounting the dashboard in a web framework, under a path of the host's choosing. Express takes
 * the handler as it is (`app.use('/jobs', handler)`); Fastify and Hono get a thin adapter here,
 * typed structurally so that neither framework is imported (both are optional peers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DashboardHandler } from './handler.js'

function below(handler: DashboardHandler, url: string): boolean {
  const base = handler.basePath
  return !base || url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`)
}

/** What the Fastify adapter needs of a Fastify instance. */
export interface FastifyLike {
  addHook(
    name: 'onRequest',
    hook: (
      req: { readonly raw: IncomingMessage },
      reply: { readonly raw: ServerResponse; hijack(): unknown },
      done: (err?: Error) => void,
    ) => void,
  ): unknown
}

/**
 * Serves the dashboard from a Fastify instance: requests below the handler's base path are
 * handed over before Fastify parses their body (an `onRequest` hook, the reply hijacked).
 *
 * @example
 * mountFastify(fastify, dashboardHandler(app, { credentials, basePath: '/jobs' }))
 */
export function mountFastify(fastify: FastifyLike, handler: DashboardHandler): void {
  fastify.addHook('onRequest', (req, reply, done) => {
    if (!below(handler, req.raw.url ?? '/')) return done()
    reply.hijack()
    handler(req.raw, reply.raw)
  })
}

/**
 * @hono/node-server's RESPONSE_ALREADY_SENT, made the same way: once, when this module loads, so
 * with the runtime's own Response (the adapter later swaps in a caching Response whose instances
 * it always writes out).
 */
const ALREADY_SENT = new Response(null, { headers: { 'x-hono-already-sent': 'true' } })

/** What the Hono adapter needs of a Hono context: @hono/node-server's bindings. */
export interface HonoContextLike {
  readonly env: unknown
}

/**
 * A Hono handler serving the dashboard on Node (@hono/node-server), which writes to the Node
 * response itself and tells the adapter it did. Route both the base path and what is below it.
 *
 * @example
 * const dashboard = honoDashboard(dashboardHandler(app, { credentials, basePath: '/jobs' }))
 * hono.all('/jobs', dashboard)
 * hono.all('/jobs/*', dashboard)
 */
export function honoDashboard(handler: DashboardHandler): (c: HonoContextLike) => Response {
  return (c) => {
    const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined
    if (!env?.incoming || !env.outgoing)
      return new Response('the dashboard mounts in Hono on Node only (@hono/node-server)', { status: 501 })
    handler(env.incoming, env.outgoing)
    return ALREADY_SENT
  }
}
