/** `celeriac worker`: the banner, the worker, and signal handling. */
import { hostname, platform, release } from 'node:os'
import { relative } from 'node:path'
import type { App } from '../core/app.js'
import { toMs } from '../core/duration.js'
import { redactUrl } from '../core/errors.js'
import { queueMetrics, taskMetrics, timeBroker, workerMetrics } from '../health/metrics.js'
import { startMetricsServer, type MetricsServer } from '../health/metrics-server.js'
import { queueSource, Registry, startHealthServer, type HealthServer } from '../health/server.js'
import { createLogger, type Logger } from '../worker/logger.js'
import { Worker } from '../worker/worker.js'
import { poolFromFlags, type PoolFlags } from '../pool/flags.js'
import { VERSION } from './version.js'

export interface WorkerFlags extends PoolFlags {
  readonly concurrency?: number
  readonly queues?: string
  readonly loglevel?: string
  readonly logFormat?: 'json' | 'pretty'
  readonly prefetch?: number
  readonly lease?: string
  readonly grace?: string
  readonly hostname?: string
  readonly maxDeliveries?: number
  readonly deadRetention?: string
  readonly events?: boolean
  readonly logTasks?: boolean
  readonly banner?: boolean
  readonly heartbeat?: string
  readonly control?: boolean
  readonly healthPort?: number
  readonly healthHost?: string
  readonly healthMaxLag?: string
  readonly metricsPort?: number
  readonly metricsHost?: string
}

function banner(app: App, file: string, w: Worker, resultUrl: string): string {
  const lines = [
    ` -------------- ${w.name} v${VERSION} (Node ${process.version})`,
    `--- ***** ----- ${platform()} ${release()} ${new Date().toISOString()}`,
    `-- ******* ---- [config]`,
    `- *** --- * --- .> app:         ${app.name} (${relative(process.cwd(), file) || file})`,
    `- ** ---------- .> broker:      ${redactUrl(app.brokerUrl ?? '(instance)')}`,
    `- ** ---------- .> results:     ${resultUrl}`,
    `- ** ---------- .> concurrency: ${w.concurrency} (${w.pool ? `${w.pool.kind} pool` : 'async slots'})`,
    `- *** --- * --- .> prefetch:    ${w.prefetch}`,
    `-- ******* ---- .> lease:       ${w.leaseMs / 1000}s`,
    `--- ***** ----- `,
    ` -------------- [queues]`,
    ...w.queues.map((q) => `                .> ${q}`),
    '',
    '[tasks]',
    ...app.taskNames().map((t) => `  . ${t}`),
    '',
  ]
  return lines.join('\n')
}

/** Something run alongside the worker (beat, with -B): started after it, stopped with it. */
export interface Alongside {
  start(logger: Logger): Promise<void>
  stop(): Promise<void>
}

export async function runWorker(
  app: App,
  file: string,
  flags: WorkerFlags,
  alongside?: Alongside,
): Promise<void> {
  const logger = createLogger({
    level: (flags.loglevel?.toLowerCase() as 'info') ?? 'info',
    format: flags.logFormat,
  })
  const metered = flags.healthPort !== undefined || flags.metricsPort !== undefined
  const registry = metered ? new Registry() : null
  const worker = new Worker(app, {
    concurrency: flags.concurrency,
    queues: flags.queues
      ? flags.queues
          .split(',')
          .map((q) => q.trim())
          .filter(Boolean)
      : undefined,
    prefetch: flags.prefetch,
    lease: flags.lease,
    shutdownGrace: flags.grace,
    maxDeliveries: flags.maxDeliveries,
    deadLetterRetention: flags.deadRetention === 'forever' ? false : flags.deadRetention,
    events: flags.events,
    logTasks: flags.logTasks,
    heartbeatInterval: flags.heartbeat,
    control: flags.control,
    name: flags.hostname ? flags.hostname.replace('%h', hostname()) : undefined,
    logger,
    pool: poolFromFlags(flags, logger),
    // Per-task metrics only when something serves them: otherwise nothing runs per task.
    watch: registry ? taskMetrics(registry) : undefined,
  })
  // Handlers go in before anything can print "ready": until a handler exists, SIGTERM kills the
  // process outright, and a supervisor may send it the moment it sees the line.
  let started = false
  let signals = 0
  const onSignal = (sig: NodeJS.Signals) => {
    signals++
    if (!started) {
      // Still connecting: nothing is reserved or running yet.
      logger.info({ signal: sig }, 'stopped while starting')
      process.exit(0)
    }
    void alongside?.stop()
    if (signals === 1) {
      logger.info(
        { signal: sig },
        'warm shutdown: finishing running tasks (send the signal again for a cold shutdown)',
      )
      void worker.stop()
    } else {
      logger.warn({ signal: sig }, 'cold shutdown: handing running tasks back to the broker')
      void worker.stop({ grace: 0 })
    }
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  let health: HealthServer | null = null
  let metrics: MetricsServer | null = null
  // Up before the worker connects: liveness answers while a slow broker is reached, and
  // readiness says "starting" rather than nothing.
  const queues = queueSource(async () => (await app.broker()).stats(worker.queues))
  if (registry) {
    workerMetrics(registry, worker)
    queueMetrics(registry, queues)
  }
  if (registry && flags.metricsPort !== undefined) {
    metrics = await startMetricsServer({ port: flags.metricsPort, host: flags.metricsHost, registry })
    logger.info({ port: metrics.port }, `metrics on :${metrics.port}/metrics`)
  }
  if (registry && flags.healthPort !== undefined) {
    health = await startHealthServer({
      port: flags.healthPort,
      host: flags.healthHost,
      maxLagMs: flags.healthMaxLag === undefined ? undefined : toMs(flags.healthMaxLag, '--health-max-lag'),
      health: () => worker.health,
      queues,
      registry,
    })
    logger.info({ port: health.port }, `health server on :${health.port} (/livez /readyz /metrics /queues)`)
  }
  // The broker the worker will use (one per app): its calls are timed from the first.
  if (registry) timeBroker(await app.broker(), registry)
  await worker.start()
  await alongside?.start(logger)
  started = true
  const store = await app.resultStore()
  const resultUrl = store ? redactUrl(app.resultBackendUrl ?? app.brokerUrl ?? store.scheme) : 'disabled'
  if (flags.banner !== false) process.stdout.write(banner(app, file, worker, resultUrl) + '\n')
  logger.info({ worker: worker.name }, `${worker.name} ready.`)
  await worker.done
  await alongside?.stop()
  await health?.close()
  await metrics?.close()
  await app.close()
  logger.info(worker.stats, 'worker stopped')
  logger.flush?.()
}
