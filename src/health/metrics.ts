/**
 * Prometheus metrics of a worker and of the queues. Queue and worker gauges are collected when
 * scraped (prom-client's `collect` callbacks); per-task counters and broker round-trip times are
 * counted as they happen, only in a worker given `taskMetrics` / `timeBroker` (a metrics or health
 * port): a worker without one has nothing on a task's path. Each registry is its own, so two
 * workers in one process, or a worker and an exporter, never clash in prom-client's global one.
 */
import { performance } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Broker, QueueStats } from '../contracts/broker.js'
import type { RunWatch, WatchedRun } from '../worker/watch.js'
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

/** Seconds: from a millisecond no-op to a five-minute task. */
const RUNTIME_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

interface TaskChildren {
  readonly runtime: { observe(v: number): void }
  readonly succeeded: { inc(): void }
  readonly failed: { inc(): void }
  readonly retried: { inc(): void }
}

/**
 * Per-task metrics, given to the worker as its `watch`: runtime histogram and outcome counters
 * labelled by task name. One shared handle serves every run and the label children are made
 * once per task name, so a run allocates nothing. Task names come from the registry (a job
 * naming an unknown task never runs), so the label set stays bounded.
 */
export function taskMetrics(registry: Registry): RunWatch {
  const labelNames = ['task'] as const
  const registers = [registry]
  const runtime = new Histogram({
    name: 'celeriac_task_runtime_seconds',
    help: 'Time a task took in this worker, from the start of its body to its outcome',
    labelNames,
    buckets: RUNTIME_BUCKETS,
    registers,
  })
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers })
  const succeeded = counter('celeriac_task_succeeded_total', 'Runs that succeeded, by task')
  const failed = counter('celeriac_task_failed_total', 'Runs that failed for good (no retry left), by task')
  const retried = counter('celeriac_task_retried_total', 'Runs that failed and were retried, by task')
  const byTask = new Map<string, TaskChildren>()
  const children = (task: string): TaskChildren => {
    let c = byTask.get(task)
    if (!c) {
      c = {
        runtime: runtime.labels(task),
        succeeded: succeeded.labels(task),
        failed: failed.labels(task),
        retried: retried.labels(task),
      }
      byTask.set(task, c)
    }
    return c
  }
  const handle: WatchedRun = {
    end(job, run, outcome) {
      const c = children(job.msg.task)
      if (run) c.runtime.observe((Date.now() - run.startedAt) / 1000)
      if (outcome.kind === 'ack') {
        if (outcome.result?.state !== 'REVOKED') c.succeeded.inc()
      } else if (outcome.kind === 'retry') c.retried.inc()
      else if (outcome.kind === 'dead') c.failed.inc()
    },
  }
  return { begin: () => handle }
}

/**
 * Broker calls this process makes that cost one round trip each (publish, settle calls, lease
 * extensions, releases, stats), timed where they are already made: no call is added. `reserve`
 * is left out, since a pull engine's reserve waits in the engine while the queue is empty.
 */
const TIMED_CALLS = ['publish', 'ack', 'retry', 'defer', 'deadLetter', 'extend', 'release', 'stats'] as const
const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const TIMED = Symbol.for('celeriac.metrics.timed')

export function timeBroker(broker: Broker, registry: Registry): void {
  const target = broker as unknown as Record<string | symbol, unknown>
  if (target[TIMED]) return
  target[TIMED] = true
  const rtt = new Histogram({
    name: 'celeriac_broker_call_seconds',
    help: 'Round-trip time of broker calls this process makes, by operation',
    labelNames: ['operation'],
    buckets: RTT_BUCKETS,
    registers: [registry],
  })
  for (const op of TIMED_CALLS) {
    const call = target[op]
    if (typeof call !== 'function') continue
    const child = rtt.labels(op)
    target[op] = function timed(this: unknown, ...args: unknown[]) {
      const t0 = performance.now()
      const done = () => child.observe((performance.now() - t0) / 1000)
      const p = (call as (...a: unknown[]) => Promise<unknown>).apply(this, args)
      p.then(done, done)
      return p
    }
  }
}
