/**
 * The dashboard server: plain node:http (no framework to install for it; the worker's health
 * server is built the same way). Routes:
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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Gauge, Registry } from 'prom-client'
import { createBeat, type Beat } from '../beat/beat.js'
import type { App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { listWorkers } from '../control/index.js'
import { queueMetrics } from '../health/metrics.js'
import { queueSource } from '../health/server.js'
import { BadRequest, DashboardApi, type Reply } from './api.js'
import { authenticated, csrfProblem, isLoopback, same, sessionCookie, type Credentials } from './auth.js'
import { readAfter, readLog } from './history.js'

export interface DashboardOptions {
  /** Default 5555; 0 picks a free port. */
  readonly port?: number
  /** Default 127.0.0.1. */
  readonly host?: string
  /**
   * Who may sign in. Null runs without authentication, which is refused unless `host` is a
   * loopback address.
   */
  readonly credentials: Credentials | null
  /**
   * The beat whose entries the Schedules page lists and pauses (default: `createBeat(app)`, the
   * entries stored under the default key). `celeriac dashboard` passes the one the app module
   * exports, as `celeriac beat list` does.
   */
  readonly beat?: Beat
  /** How often live updates are pushed (default 1000 ms). */
  readonly liveIntervalMs?: number
}

export interface Dashboard {
  readonly port: number
  readonly url: string
  close(): Promise<void>
}

const UI = new URL('./ui/', import.meta.url)
// Built files live in dist/dashboard/; the front end is shipped as source in src/dashboard/ui.
const UI_DIR = UI.pathname.includes('/dist/dashboard/')
  ? new URL('../../src/dashboard/ui/', import.meta.url)
  : UI
const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'pages.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
}
const PAGES = /^\/(|queues|workers|tasks|tasks\/[^/]+|dead|schedules)$/
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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

async function readBody(req: IncomingMessage, max = 64 * 1024): Promise<string> {
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
  const text = await readBody(req)
  if (!text) return null
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new BadRequest('the body is not JSON')
  }
}

/**
 * Starts the dashboard for an app.
 *
 * @example
 * const d = await startDashboard(app, { port: 5555, credentials: { user: 'admin', password } })
 */
export async function startDashboard(app: App, options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1'
  const creds = options.credentials
  if (!creds && !isLoopback(host))
    throw new ConfigError(
      `the dashboard runs without authentication only on loopback (127.0.0.1 or ::1), not on ${host}: set CELERIAC_DASHBOARD_PASSWORD`,
    )
  if (creds && !creds.password) throw new ConfigError('the dashboard password is empty')
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
    let cursor = c ? (await readLog(c)).cursor : null
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
      if (parts[0] === 'tasks' && parts.length === 2) return api.task(parts[1]!)
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
    if (parts[0] === 'dead' && parts.length === 2) return api.deadAction(parts[1]!, body)
    if (parts[0] === 'schedules' && parts.length === 3) return api.scheduleAction(parts[1]!, parts[2]!)
    return null
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://dashboard')
    const path = url.pathname
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true
    if (path === '/static/style.css') return asset(res, 'style.css', ASSETS['style.css']!)
    if (path === '/static/favicon.svg' || path === '/favicon.ico')
      return asset(res, 'favicon.svg', 'image/svg+xml')
    if (path === '/login') {
      if (req.method === 'GET') {
        // A fixed sentence after a refused sign-in; nothing from the request goes into the page.
        const html = (await readFile(new URL('login.html', UI_DIR), 'utf8')).replace(
          '<!--failed-->',
          url.searchParams.has('failed') ? '<p class="alert" role="alert">Wrong user or password.</p>' : '',
        )
        return send(res, 200, html, { 'content-type': 'text/html; charset=utf-8' })
      }
      if (req.method !== 'POST') return send(res, 405, { error: 'GET or POST only' })
      const problem = csrfProblem(req, false)
      if (problem) return send(res, 403, { error: problem })
      const form = new URLSearchParams(await readBody(req, 4096))
      const given = { user: form.get('user') ?? '', password: form.get('password') ?? '' }
      if (creds && (!same(given.user, creds.user) || !same(given.password, creds.password)))
        return send(res, 303, '', { location: '/login?failed=1' })
      return send(res, 303, '', { location: '/', 'set-cookie': sessionCookie(creds, secure) })
    }
    if (!authenticated(req, creds)) {
      if (req.method === 'GET' && PAGES.test(path)) return send(res, 303, '', { location: '/login' })
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
      return send(res, 200, { ok: true }, { 'set-cookie': sessionCookie(null, secure) })
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
    if (req.method === 'GET' && PAGES.test(path)) return asset(res, 'index.html', 'text/html; charset=utf-8')
    send(res, 404, { error: `no page ${path}` })
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest || err instanceof ConfigError ? 400 : 500
      if (!res.headersSent) send(res, status, { error: err instanceof Error ? err.message : String(err) })
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 5555, host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: async () => {
      for (const s of streams) s.end()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
