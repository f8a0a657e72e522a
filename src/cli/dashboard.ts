/**
 * `celeriac dashboard`: serves the web dashboard until SIGTERM/SIGINT. Credentials come from
 * the environment (CELERIAC_DASHBOARD_PASSWORD, CELERIAC_DASHBOARD_USER, default "admin"), never
 * from a flag, so they stay out of `ps` and shell history.
 */
import type { App } from '../core/app.js'
import { ConfigError, redactUrl } from '../core/errors.js'
import { startDashboard } from '../dashboard/index.js'
import { beatOf } from './beat.js'

export interface DashboardFlags {
  readonly port?: number
  readonly host?: string
  readonly insecureNoAuth?: boolean
  /** Serve below this path (`--base-path /jobs`), as when a reverse proxy forwards /jobs here. */
  readonly basePath?: string
}

export async function runDashboard(
  app: App,
  flags: DashboardFlags,
  file: string | null = null,
): Promise<void> {
  const password = process.env.CELERIAC_DASHBOARD_PASSWORD
  if (!password && !flags.insecureNoAuth)
    throw new ConfigError(
      'the dashboard needs a password: set CELERIAC_DASHBOARD_PASSWORD (or, on loopback only, pass --insecure-no-auth)',
    )
  if (password && flags.insecureNoAuth)
    throw new ConfigError('--insecure-no-auth and CELERIAC_DASHBOARD_PASSWORD were both given: choose one')
  const dashboard = await startDashboard(app, {
    port: flags.port ?? 5555,
    host: flags.host ?? '127.0.0.1',
    basePath: flags.basePath,
    // The Schedules page shows the beat the app module exports, as `celeriac beat list` does.
    beat: await beatOf(app, file),
    credentials: password ? { user: process.env.CELERIAC_DASHBOARD_USER || 'admin', password } : null,
  })
  process.stdout.write(
    `celeriac dashboard on ${dashboard.url} for ${redactUrl(app.brokerUrl ?? '(instance)')}${password ? '' : ' (no authentication)'}\n`,
  )
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  await dashboard.close()
  await app.close()
}
