/**
 * Probes and Prometheus metrics for programs that run a worker themselves (the CLI's
 * `--health-port` and `--metrics-port` use the same functions).
 *
 * @example
 * const registry = new Registry()
 * const worker = new Worker(app, { watch: taskMetrics(registry) })
 * timeBroker(await app.broker(), registry)
 * workerMetrics(registry, worker)
 * queueMetrics(registry, queueSource(async () => (await app.broker()).stats(worker.queues)))
 * await startMetricsServer({ port: 9100, registry })
 * await worker.start()
 */
export { queueMetrics, taskMetrics, timeBroker, workerMetrics, type QueueSource } from './metrics.js'
export { startMetricsServer, type MetricsServer } from './metrics-server.js'
export {
  queueSource,
  queuesJson,
  Registry,
  startHealthServer,
  type HealthServer,
  type HealthServerOptions,
} from './server.js'
