/**
 * A metrics-only listener (`celeriac worker --metrics-port`): `GET /metrics` in Prometheus text,
 * nothing else, so it can be exposed to a scraper apart from the probes of `--health-port`.
 */
import { createServer, type Server } from 'node:http'
import type { Registry } from 'prom-client'
import { listen } from './listen.js'

export interface MetricsServer {
  readonly port: number
  close(): Promise<void>
}

export async function startMetricsServer(options: {
  readonly port: number
  /** Default 0.0.0.0: Prometheus scrapes from outside the container. */
  readonly host?: string
  readonly registry: Registry
}): Promise<MetricsServer> {
  const { registry } = options
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('only GET /metrics here\n')
      return
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' })
        res.end(text)
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`${err.message}\n`)
      },
    )
  })
  return listen(server, options.port, options.host ?? '0.0.0.0')
}
