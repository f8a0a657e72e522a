/**
 * The dashboard as one node:http request handler (no framework to install for it; the worker's
 * health server is built the same way), served by `startDashboard` (server.ts) or mounted under a
 * path in Express, Fastify or Hono (mount.ts). Routes, below the base path:
 * - pages (`/`, `/queues`, `/workers`, `/tasks`, `/tasks/<id>`, `/dead`, `/schedules`): the one
 *   HTML shell;
 *   the front end (ES modules in ./ui) draws the page the URL names, so every view can be shared;
 * - `/api/…`: JSON (api.ts); POSTs are actions and need a CSRF-safe request (auth.ts);
 * - `/api/live`: server-sent events: queue counts and new events every second;
 * - `/metrics`: Prometheus text (src/health/metrics.ts) plus workers online;
 * - `/login`, `/logout`.
 * Everything needs authentication unless the server was started without credentials, which is
 * refused unless it listens on loopback only.
 */
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Gauge, Registry } from 'prom-client'
import { createBeat, type Beat } from '../beat/beat.js'
import type { App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { listWorkers } from '../control/index.js'
import { queueMetrics } from '../health/metrics.js'
import { queueSource } from '../health/server.js'
import { BadRequest, DashboardApi, type Reply } from './api.js'
import { authenticated, csrfProblem, same, sessionCookie, type Credentials } from './auth.js'
import { readAfter } from './history.js'

export interface DashboardHandlerOptions {
  /**
   * Who may sign in. Null runs without authentication: `startDashboard` allows it only on a
   * loopback address; a mounted handler takes it as given (the host framework guards it).
   */
  readonly credentials: Credentials | null
  /**
   * The path the dashboard is mounted under, such as `/admin/jobs` (default: none, the root).
   * Links, redirects, the session cookie's path and the API all live below it.
   */
  readonly basePath?: string
  /**
   * The beat whose entries the Schedules page lists and pauses (default: `createBeat(app)`, the
   * entries stored under the default key). `celeriac dashboard` passes the one the app module
   * exports, as `celeriac beat list` does.
   */
  readonly beat?: Beat
  /** How often live updates are pushed (default 1000 ms). */
  readonly liveIntervalMs?: number
}

/** A node:http request handler serving the dashboard; `close()` ends its live streams. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse): void
  readonly basePath: string
  close(): void
}

const UI = new URL('./ui/', import.meta.url)
// Built files live in dist/dashboard/; the front end is shipped as source in src/dashboard/ui.
const UI_DIR = UI.pathname.includes('/dist/dashboard/')
  ? new URL('../../src/dashboard/ui/', import.meta.url)
  : UI
const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'chart.js': 'text/javascript; charset=utf-8',
  'limits.js': 'text/javascript; charset=utf-8',
  'queues.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'flow.js': 'text/javascript; charset=utf-8',
  'pages.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
}
const PAGES = /^\/(|queues|workers|tasks|tasks\/[^/]+|dead|schedules)$/
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: under it a browser sends `Origin: null` with the login form's POST, which the
  // CSRF check must refuse. same-origin still tells nothing to other sites.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const json = typeof body !== 'string'
  res.writeHead(status, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  })
  res.end(json ? JSON.stringify(body) : body)
}

async function asset(res: ServerResponse, name: string, type: string): Promise<void> {
  const text = await readFile(new URL(name, UI_DIR), 'utf8')
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', ...SECURITY_HEADERS })
  res.end(text)
}

/** A body a framework already read (Express's, Fastify's parsers), or null to read the stream. */
function parsed(req: IncomingMessage): unknown {
  return (req as { body?: unknown }).body ?? null
}

async function readBody(req: IncomingMessage, max = 64 * 1024): Promise<string> {
  const given = parsed(req)
  if (given !== null) {
    if (typeof given === 'string') return given
    if (Buffer.isBuffer(given)) return given.toString('utf8')
    if (typeof given === 'object') return new URLSearchParams(given as Record<string, string>).toString()
  }
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) throw new BadRequest(`request body over ${max} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const given = parsed(req)
  if (given !== null && typeof given === 'object' && !Buffer.isBuffer(given)) return given
  const text = await readBody(req)
  if (!text) return null
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new BadRequest('the body is not JSON')
  }
}

/** Checks a base path: empty, or `/` and path segments, no trailing slash. */
export function basePathOf(given: string | undefined): string {
  const base = (given ?? '').replace(/\/+$/, '')
  if (base && !/^(\/[A-Za-z0-9._~-]+)+$/.test(base))
    throw new ConfigError(`the dashboard's base path must look like /admin/jobs, got "${given}"`)
  return base
}

/**
 * The dashboard as a node:http request handler, to serve or to mount under a path in a web
 * framework (see mount.ts for Express, Fastify and Hono).
 *
 * @example
 * const handler = dashboardHandler(app, { credentials: { user: 'admin', password }, basePath: '/jobs' })
 * createServer(handler).listen(5555)
 */
export function dashboardHandler(app: App, options: DashboardHandlerOptions): DashboardHandler {
  const creds = options.credentials
  if (creds && !creds.password) throw new ConfigError('the dashboard password is empty')
  const base = basePathOf(options.basePath)
  const baseTag = `<base href="${base}/" />`
  const html = async (name: string): Promise<string> =>
    (await readFile(new URL(name, UI_DIR), 'utf8')).replace('<!--base-->', baseTag)
  const api = new DashboardApi(app, options.beat ?? createBeat(app))
  const liveMs = options.liveIntervalMs ?? 1000

  const registry = new Registry()
  const queues = queueSource(async () => (await app.broker()).stats())
  queueMetrics(registry, queues)
  new Gauge({
    name: 'celeriac_workers_online',
    help: 'Workers in the registry heard from within three heartbeats',
    registers: [registry],
    async collect() {
      const c = await app.coordination().catch(() => null)
      this.set(c ? (await listWorkers(c).catch(() => [])).filter((w) => w.online).length : 0)
    },
  })

  const streams = new Set<ServerResponse>()

  const live = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      ...SECURITY_HEADERS,
    })
    streams.add(res)
    const c = await app.coordination()
    let cursor = (await api.index())?.position ?? null
    let closed = false
    req.on('close', () => {
      closed = true
      streams.delete(res)
    })
    while (!closed) {
      try {
        const broker = await app.broker()
        const [stats, next] = await Promise.all([
          broker.stats(),
          c ? readAfter(c, cursor) : Promise.resolve({ events: [], cursor }),
        ])
        cursor = next.cursor
        const payload = {
          at: Date.now(),
          queues: stats,
          events: next.events.filter((e) => e.type !== 'worker-heartbeat'),
        }
        res.write(`event: tick\ndata: ${JSON.stringify(payload)}\n\n`)
      } catch (err) {
        res.write(`event: trouble\ndata: ${JSON.stringify({ error: (err as Error).message })}\n\n`)
      }
      await new Promise((r) => setTimeout(r, liveMs))
    }
  }

  const routeApi = async (req: IncomingMessage, path: string, q: URLSearchParams): Promise<Reply | null> => {
    const parts = path.split('/').slice(2).map(decodeURIComponent)
    if (req.method === 'GET') {
      if (path === '/api/overview') return api.overview()
      if (path === '/api/queues') return api.queues()
      if (path === '/api/workers') return api.workers()
      if (path === '/api/tasks') return api.tasks(q)
      if (parts[0] === 'queues' && parts.length === 3 && parts[2] === 'jobs')
        return api.queueJobs(parts[1]!, q)
      if (path === '/api/rate-limits') return api.rateLimits()
      if (parts[0] === 'tasks' && parts.length === 2) return api.task(parts[1]!)
      if (parts[0] === 'tasks' && parts.length === 3 && parts[2] === 'tree') return api.taskTree(parts[1]!)
      if (path === '/api/dead') return api.dead(q)
      if (path === '/api/schedules') return api.schedules()
      return null
    }
    if (req.method !== 'POST') return { status: 405, body: { error: 'GET or POST only' } }
    const problem = csrfProblem(req)
    if (problem) return { status: 403, body: { error: problem } }
    const body = await jsonBody(req)
    if (parts[0] === 'queues' && parts.length === 3) return api.queueAction(parts[1]!, parts[2]!)
    if (parts[0] === 'workers' && parts.length === 3) return api.workerAction(parts[1]!, parts[2]!, body)
    if (parts[0] === 'tasks' && parts.length === 3 && parts[2] === 'revoke')
      return api.revoke(parts[1]!, body)
    if (parts[0] === 'tasks' && parts.length === 3 && parts[2] === 'retry') return api.retryNow(parts[1]!)
    if (path === '/api/rate-limits') return api.rateLimitAction(body)
    if (parts[0] === 'dead' && parts.length === 2) return api.deadAction(parts[1]!, body)
    if (parts[0] === 'schedules' && parts.length === 3) return api.scheduleAction(parts[1]!, parts[2]!)
    return null
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Express hands a mounted handler the URL below its mount point; the full one is originalUrl.
    const url = new URL((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/', 'http://dashboard')
    if (base && url.pathname !== base && !url.pathname.startsWith(`${base}/`))
      return send(res, 404, { error: `no page ${url.pathname}` })
    if (base && url.pathname === base) return send(res, 308, '', { location: `${base}/${url.search}` })
    const path = url.pathname.slice(base.length)
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true
    if (path === '/static/style.css') return asset(res, 'style.css', ASSETS['style.css']!)
    if (path === '/static/favicon.svg' || path === '/favicon.ico')
      return asset(res, 'favicon.svg', 'image/svg+xml')
    if (path === '/login') {
      if (req.method === 'GET') {
        // A fixed sentence after a refused sign-in; nothing from the request goes into the page.
        const page = (await html('login.html')).replace(
          '<!--failed-->',
          url.searchParams.has('failed') ? '<p class="alert" role="alert">Wrong user or password.</p>' : '',
        )
        return send(res, 200, page, { 'content-type': 'text/html; charset=utf-8' })
      }
      if (req.method !== 'POST') return send(res, 405, { error: 'GET or POST only' })
      const problem = csrfProblem(req, false)
      if (problem) return send(res, 403, { error: problem })
      const form = new URLSearchParams(await readBody(req, 4096))
      const given = { user: form.get('user') ?? '', password: form.get('password') ?? '' }
      if (creds && (!same(given.user, creds.user) || !same(given.password, creds.password)))
        return send(res, 303, '', { location: `${base}/login?failed=1` })
      return send(res, 303, '', { location: `${base}/`, 'set-cookie': sessionCookie(creds, secure, base) })
    }
    if (!authenticated(req, creds)) {
      if (req.method === 'GET' && PAGES.test(path)) return send(res, 303, '', { location: `${base}/login` })
      return send(
        res,
        401,
        { error: 'sign in first (basic auth or /login)' },
        { 'www-authenticate': 'Basic realm="celeriac", charset="UTF-8"' },
      )
    }
    if (path === '/logout' && req.method === 'POST') {
      const problem = csrfProblem(req)
      if (problem) return send(res, 403, { error: problem })
      return send(res, 200, { ok: true }, { 'set-cookie': sessionCookie(null, secure, base) })
    }
    if (path.startsWith('/static/')) {
      const name = path.slice('/static/'.length)
      const type = ASSETS[name]
      return type ? asset(res, name, type) : send(res, 404, { error: `no asset ${name}` })
    }
    if (path === '/metrics') {
      const text = await registry.metrics()
      return send(res, 200, text, { 'content-type': registry.contentType })
    }
    if (path === '/api/live') return live(req, res)
    if (path.startsWith('/api/')) {
      const reply = await routeApi(req, path, url.searchParams)
      return reply
        ? send(res, reply.status, reply.body)
        : send(res, 404, { error: `no API route ${req.method} ${path}` })
    }
    if (req.method === 'GET' && PAGES.test(path))
      return send(res, 200, await html('index.html'), {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
      })
    send(res, 404, { error: `no page ${path}` })
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest || err instanceof ConfigError ? 400 : 500
      if (!res.headersSent) send(res, status, { error: err instanceof Error ? err.message : String(err) })
      else res.destroy()
    })
  }
  return Object.assign(handler, {
    basePath: base,
    close: () => {
      for (const s of streams) s.end()
      streams.clear()
    },
  })
}
