/**
 * The worker as remote control sees it (src/control/worker-handle.ts): what it runs and holds,
 * its registry entry, and the few things a control command may change. Kept apart from
 * worker.ts so the worker only hands over closures on its state.
 */
import { hostname } from 'node:os'
import { createRequire } from 'node:module'
import type { Delivery } from '../contracts/broker.js'
import { TaskRevokedError } from '../core/errors.js'
import { peekMessage } from '../core/message.js'
import { ControlCommandError } from '../control/commands.js'
import type { Revocations } from '../control/revocations.js'
import type { ActiveTask, ControlledWorker } from '../control/worker-handle.js'
import type { PreparedJob } from './prepare.js'
import type { RunStop } from './run.js'
import type { Worker } from './worker.js'

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version

export interface RunningJob {
  readonly job: PreparedJob
  readonly startedAt: number
  readonly stop: RunStop
}

export interface RemoteParts {
  readonly worker: Worker
  readonly runs: ReadonlyMap<string, RunningJob>
  buffered(): readonly Delivery[]
  revocations(): Revocations | null
  resize(delta: number): number
  setQueues(queues: string[]): Promise<void>
}

function preview(args: unknown[]): string {
  let text: string
  try {
    text = JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? '[]'
  } catch {
    text = '[unprintable]'
  }
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

export function remoteHandle(p: RemoteParts): ControlledWorker {
  const w = p.worker
  const host = hostname()
  return {
    name: w.name,
    info() {
      const s = w.stats
      return {
        name: w.name,
        host,
        pid: process.pid,
        pool: w.poolName,
        concurrency: w.concurrency,
        prefetch: w.prefetch,
        queues: [...w.queues],
        active: s.running,
        processed: s.succeeded + s.failed + s.retried,
        succeeded: s.succeeded,
        failed: s.failed,
        retried: s.retried,
        startedAt: w.startedAt,
        version: VERSION,
      }
    },
    statsReply() {
      return {
        ...this.info(),
        ...w.stats,
        uptimeMs: Date.now() - w.startedAt,
        revoked: p.revocations()?.size ?? 0,
        leaseMs: w.leaseMs,
        commands: w.control.names(),
      }
    },
    active() {
      return [...p.runs.values()].map((r): ActiveTask => ({
        id: r.job.msg.id,
        task: r.job.msg.task,
        queue: r.job.delivery.queue,
        startedAt: r.startedAt,
        args: preview(r.job.args),
        deliveries: r.job.delivery.deliveries,
      }))
    },
    reserved() {
      return p.buffered().map((d) => ({ id: d.id, task: peekMessage(d.body).task ?? null, queue: d.queue }))
    },
    registered: () => w.app.taskNames(),
    revokedCount: () => p.revocations()?.size ?? 0,
    revoke(ids, ttlMs, terminate) {
      p.revocations()?.add(ids, ttlMs, terminate)
      const wanted = new Set(ids)
      let hit = 0
      for (const r of p.runs.values()) {
        const id = r.job.msg.id
        if (!wanted.has(id)) continue
        hit++
        const err = new TaskRevokedError(id, terminate ? 'terminated while running' : 'revoked while running')
        if (!terminate) r.stop.abort(err)
        else if (!w.terminator?.terminate(id)) r.stop.kill(err)
      }
      return hit
    },
    resize: (delta) => p.resize(delta),
    async addQueue(queue) {
      if (!w.queues.includes(queue)) await p.setQueues([...w.queues, queue])
      return [...w.queues]
    },
    async cancelQueue(queue) {
      if (!w.queues.includes(queue)) return [...w.queues]
      if (w.queues.length === 1)
        throw new ControlCommandError(`"${queue}" is the only queue this worker consumes; add another first`)
      await p.setQueues(w.queues.filter((q) => q !== queue))
      return [...w.queues]
    },
    stop: () => w.stop(),
  }
}
