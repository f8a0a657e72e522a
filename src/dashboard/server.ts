/**
 * `startDashboard`: the dashboard handler (handler.ts) on its own node:http server. Without
 * credentials it listens on loopback only.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { isLoopback } from './auth.js'
import { dashboardHandler, type DashboardHandlerOptions } from './handler.js'

export interface DashboardOptions extends DashboardHandlerOptions {
  /** Default 5555; 0 picks a free port. */
  readonly port?: number
  /** Default 127.0.0.1. */
  readonly host?: string
}

export interface Dashboard {
  readonly port: number
  readonly url: string
  close(): Promise<void>
}

/**
 * Starts the dashboard for an app.
 *
 * @example
 * const d = await startDashboard(app, { port: 5555, credentials: { user: 'admin', password } })
 */
export async function startDashboard(app: App, options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1'
  if (!options.credentials && !isLoopback(host))
    throw new ConfigError(
      `the dashboard runs without authentication only on loopback (127.0.0.1 or ::1), not on ${host}: set CELERIAC_DASHBOARD_PASSWORD`,
    )
  const handler = dashboardHandler(app, options)
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 5555, host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${handler.basePath}/`,
    close: async () => {
      handler.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
