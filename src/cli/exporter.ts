/**
 * `celeriac exporter`: queue counts for Prometheus and autoscalers, from a process that runs no
 * tasks, so it answers while workers are scaled to zero.
 */
import type { App } from '../core/app.js'
import { BadUrlError, ConfigError, redactUrl } from '../core/errors.js'
import { queueMetrics } from '../health/metrics.js'
import { queueSource, Registry, startHealthServer } from '../health/server.js'

export interface ExporterFlags {
  readonly port?: number
  readonly host?: string
  readonly queues?: string
}

export async function runExporter(app: App, flags: ExporterFlags): Promise<void> {
  const names = flags.queues
    ?.split(',')
    .map((q) => q.trim())
    .filter(Boolean)
  // Asked on every scrape: an exporter started before its broker, or outliving an outage, serves
  // 503s meanwhile and counts again once the broker is back.
  const queues = queueSource(async () => (await app.broker()).stats(names?.length ? names : undefined))
  const registry = new Registry()
  queueMetrics(registry, queues)
  const server = await startHealthServer({ port: flags.port ?? 9808, host: flags.host, queues, registry })
  // Serving is this process's whole job: the server keeps it alive until a signal.
  const alive = setInterval(() => {}, 1 << 30)
  process.stdout.write(
    `celeriac exporter on :${server.port} for ${redactUrl(app.brokerUrl ?? '(instance)')} (/metrics /queues /readyz /livez)\n`,
  )
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  // A URL that can never work (unknown scheme, bad syntax) is an error now, not a 503 for ever.
  const fatal = app.broker().then(
    () => new Promise<never>(() => {}),
    (err: unknown) => {
      if (err instanceof ConfigError || err instanceof BadUrlError) throw err
      process.stderr.write(`celeriac exporter: the broker cannot be reached yet: ${(err as Error).message}\n`)
      return new Promise<never>(() => {})
    },
  )
  try {
    await Promise.race([stopped, fatal])
  } finally {
    clearInterval(alive)
    await server.close()
  }
  await app.close()
}
