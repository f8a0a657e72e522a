/**
 * Prometheus metrics of a worker and of the queues, collected when scraped (prom-client's
 * `collect` callbacks): nothing is counted on a task's path. Each registry is its own, so two
 * workers in one process, or a worker and an exporter, never clash in prom-client's global one.
 */
import { Gauge, Registry } from 'prom-client'
import type { QueueStats } from '../contracts/broker.js'
import type { Worker } from '../worker/worker.js'

/** Queue counts for the metrics, or null when the broker cannot be asked now. */
export type QueueSource = () => Promise<QueueStats[] | null>

export function queueMetrics(registry: Registry, source: QueueSource): void {
  const fields = ['waiting', 'delayed', 'active', 'dead'] as const
  const jobs = new Gauge({
    name: 'celeriac_queue_jobs',
    help: 'Jobs in a queue by state: waiting (ready now), delayed, active (leased), dead',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset()
      for (const q of (await source()) ?? [])
        for (const f of fields) this.set({ queue: q.queue, state: f }, q[f])
    },
  })
  void jobs
  new Gauge({
    name: 'celeriac_queue_throughput',
    help: 'Jobs settled per second over about the last minute',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset()
      for (const q of (await source()) ?? []) this.set({ queue: q.queue }, q.throughput)
    },
  })
  new Gauge({
    name: 'celeriac_queue_paused',
    help: '1 when the queue is paused',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset()
      for (const q of (await source()) ?? []) this.set({ queue: q.queue }, q.paused ? 1 : 0)
    },
  })
}

export function workerMetrics(registry: Registry, worker: Worker): void {
  const outcome = new Gauge({
    name: 'celeriac_worker_tasks',
    help: 'Tasks this worker process has handled since it started, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const s = worker.stats
      this.set({ outcome: 'received' }, s.received)
      this.set({ outcome: 'succeeded' }, s.succeeded)
      this.set({ outcome: 'failed' }, s.failed)
      this.set({ outcome: 'retried' }, s.retried)
      this.set({ outcome: 'dead_lettered' }, s.deadLettered)
      this.set({ outcome: 'stale' }, s.stale)
    },
  })
  void outcome
  new Gauge({
    name: 'celeriac_worker_running',
    help: 'Tasks running in this worker now',
    registers: [registry],
    collect() {
      this.set(worker.stats.running)
    },
  })
  new Gauge({
    name: 'celeriac_worker_buffered',
    help: 'Tasks received and waiting for a free slot in this worker',
    registers: [registry],
    collect() {
      this.set(worker.stats.buffered)
    },
  })
  new Gauge({
    name: 'celeriac_worker_concurrency',
    help: 'Slots of this worker',
    registers: [registry],
    collect() {
      this.set(worker.concurrency)
    },
  })
}
