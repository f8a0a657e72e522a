/**
 * The probe and metrics server of a worker or exporter process (`celeriac worker --health-port`,
 * `celeriac exporter`): plain node:http, so it answers even when the app uses no web framework.
 *
 * - `GET /livez`: the event loop is responsive. 503 when its delay over the last interval passed
 *   `maxLagMs` (a task blocking the loop: use a thread or process pool for CPU-bound work). A loop
 *   blocked for good never answers at all, which a probe's timeout counts as a failure too.
 * - `GET /readyz`: consuming, and no broker call has been failing for longer than `maxOutageMs`.
 *   Stopping (a warm shutdown) is not ready, so a load balancer or autoscaler looks elsewhere.
 * - `GET /metrics`: Prometheus text (worker counters, queue counts).
 * - `GET /queues`: queue counts as JSON, for autoscalers that read JSON (KEDA's metrics-api).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Registry } from 'prom-client'
import type { QueueStats } from '../contracts/broker.js'
import type { WorkerHealth } from '../worker/worker.js'
import type { QueueSource } from './metrics.js'
import { listen } from './listen.js'

export interface HealthServerOptions {
  readonly port: number
  /** Default 0.0.0.0: probes come from the orchestrator, outside the container. */
  readonly host?: string
  /** Liveness fails when the event loop's delay passed this (default 10 s). */
  readonly maxLagMs?: number
  /** Readiness fails when a broker call has been failing this long (default 30 s). */
  readonly maxOutageMs?: number
  /** The worker's health; absent for an exporter, which is ready while it can read the queues. */
  readonly health?: () => WorkerHealth
  /** Queue counts for /queues and readiness of an exporter. */
  readonly queues: QueueSource
  readonly registry: Registry
}

export interface HealthServer {
  readonly port: number
  close(): Promise<void>
}

const LAG_WINDOW_MS = 5000

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const maxLagMs = options.maxLagMs ?? 10_000
  const maxOutageMs = options.maxOutageMs ?? 30_000
  // The delay histogram is reset every window, so one slow moment long ago does not fail the
  // probe for ever; the worst of the last full window and the current one counts.
  const lag = monitorEventLoopDelay({ resolution: 20 })
  lag.enable()
  let lastWindowMax = 0
  const window = setInterval(() => {
    lastWindowMax = lag.max / 1e6
    lag.reset()
  }, LAG_WINDOW_MS)
  window.unref()

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
    res.end(text)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' })
    if (path === '/livez') {
      const lagMs = Math.max(lastWindowMax, lag.max / 1e6)
      const ok = lagMs <= maxLagMs
      return send(res, ok ? 200 : 503, { ok, eventLoopDelayMs: Math.round(lagMs), maxLagMs })
    }
    if (path === '/readyz') {
      if (options.health) {
        const h = options.health()
        const now = Date.now()
        const failing = h.failing.filter((f) => now - f.since > maxOutageMs).map((f) => f.what)
        const ok = h.phase === 'consuming' && failing.length === 0
        return send(res, ok ? 200 : 503, { ok, phase: h.phase, failing })
      }
      const queues = await options.queues()
      return send(res, queues ? 200 : 503, { ok: queues !== null })
    }
    if (path === '/metrics') {
      const text = await options.registry.metrics()
      return send(res, 200, text, options.registry.contentType)
    }
    if (path === '/queues') {
      const queues = await options.queues()
      if (!queues) return send(res, 503, { error: 'the broker cannot be reached' })
      return send(res, 200, queuesJson(queues))
    }
    send(res, 404, { error: `no route ${path}: try /livez, /readyz, /metrics or /queues` })
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: err instanceof Error ? err.message : String(err) })
      else res.destroy()
    })
  })
  // Probes hold no connection open: a keep-alive socket must not delay the process's exit.
  return listen(server, options.port, options.host ?? '0.0.0.0', () => {
    clearInterval(window)
    lag.disable()
  })
}

type Counts = Omit<QueueStats, 'queue'>

/**
 * `{ "queues": { "<queue>": { waiting, delayed, active, dead, paused, throughput } }, "total": {…} }`:
 * an autoscaler reads `total.waiting`, or `queues.<name>.waiting` for one queue.
 */
export function queuesJson(queues: readonly QueueStats[]): { queues: Record<string, Counts>; total: Counts } {
  const out: Record<string, Counts> = {}
  const total = { waiting: 0, delayed: 0, active: 0, dead: 0, throughput: 0, paused: false }
  for (const { queue, ...rest } of queues) {
    out[queue] = rest
    total.waiting += rest.waiting
    total.delayed += rest.delayed
    total.active += rest.active
    total.dead += rest.dead
    total.throughput += rest.throughput
  }
  return { queues: out, total }
}

/** A queue source over a broker's stats that answers null (not an error) while it is down. */
export function queueSource(stats: () => Promise<QueueStats[]>, timeoutMs = 2000): QueueSource {
  return async () => {
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        stats(),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), timeoutMs)
        }),
      ])
    } catch {
      return null
    } finally {
      clearTimeout(timer)
    }
  }
}

export { Registry }
