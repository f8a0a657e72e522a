/**
 * A worker's side of remote control: it listens on the control channel (requests and revoke
 * broadcasts), answers on the reply channel each request names, keeps the worker's revoked set,
 * and writes the worker's registry entry on every heartbeat.
 *
 * Start order matters: subscribe first, then load the stored revocations, so a revocation is
 * either in the records read or in a broadcast received after subscribing, never in neither.
 */
import type { Coordination } from '../contracts/coordination.js'
import type { Logger } from '../worker/logger.js'
import { OutageLog } from '../worker/outage.js'
import type { ControlCommands } from './commands.js'
import {
  ALIVE_SPACE,
  CONTROL_CHANNEL,
  MISSED_HEARTBEATS,
  PROTOCOL_VERSION,
  WORKER_RECORD_KEEP_MS,
  WORKERS_SPACE,
  parseRequest,
  type ControlReply,
  type ControlRequest,
  type WorkerInfo,
} from './protocol.js'
import { Revocations } from './revocations.js'
import type { ControlledWorker } from './worker-handle.js'

/** Celery's workers send a heartbeat every 2 s. */
export const DEFAULT_HEARTBEAT_MS = 2000
/** Stored revocations are merged in again this often (catches a broadcast missed on a reconnect). */
const RELOAD_MS = 30_000

export interface AgentOptions {
  readonly heartbeatMs: number
  readonly log: Logger
  /** Called on each heartbeat (the worker-heartbeat event). */
  readonly onHeartbeat?: () => void
}

export class ControlAgent {
  readonly revocations: Revocations
  private unsubscribe: (() => Promise<void>) | null = null
  private timer: NodeJS.Timeout | null = null
  private lastReload = 0
  private beating: Promise<void> | null = null
  private readonly outages: OutageLog

  constructor(
    private readonly coordination: Coordination,
    private readonly worker: ControlledWorker,
    private readonly commands: ControlCommands,
    private readonly o: AgentOptions,
  ) {
    this.revocations = new Revocations(coordination)
    this.outages = new OutageLog(o.log)
  }

  /** Subscribes, loads revocations, writes the first heartbeat. */
  async start(): Promise<void> {
    this.unsubscribe = await this.coordination.subscribe(CONTROL_CHANNEL, (m) => this.received(m))
    await this.revocations.load()
    this.lastReload = Date.now()
    await this.beat()
    this.timer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = null))
    }, this.o.heartbeatMs)
    this.timer.unref()
  }

  /** Stops listening and marks the worker offline at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.beating
    await this.unsubscribe?.().catch(() => {})
    this.unsubscribe = null
    await Promise.all([
      this.coordination.put(WORKERS_SPACE, [this.entry('offline')]),
      this.coordination.remove(ALIVE_SPACE, [this.worker.name]),
    ]).catch((err: Error) => this.o.log.warn({ err: err.message }, 'could not mark this worker offline'))
  }

  private entry(state: WorkerInfo['state']) {
    const info: WorkerInfo = {
      ...this.worker.info(),
      heartbeatAt: Date.now(),
      heartbeatMs: this.o.heartbeatMs,
      state,
    }
    return { key: this.worker.name, value: JSON.stringify(info), ttlMs: WORKER_RECORD_KEEP_MS }
  }

  private async beat(): Promise<void> {
    try {
      await Promise.all([
        this.coordination.put(WORKERS_SPACE, [this.entry('online')]),
        this.coordination.put(ALIVE_SPACE, [
          { key: this.worker.name, value: '1', ttlMs: MISSED_HEARTBEATS * this.o.heartbeatMs },
        ]),
      ])
      if (Date.now() - this.lastReload >= RELOAD_MS) {
        await this.revocations.load()
        this.lastReload = Date.now()
      }
      this.outages.ok('writing heartbeats')
    } catch (err) {
      this.outages.failed('writing heartbeats', err)
    }
    this.o.onHeartbeat?.()
  }

  private received(message: string): void {
    const req = parseRequest(message)
    if (!req) return
    if (req.destination && !req.destination.includes(this.worker.name)) return
    void this.answer(req)
  }

  private async answer(req: ControlRequest): Promise<void> {
    const after: (() => void)[] = []
    let reply: ControlReply
    const handler = this.commands.get(req.command)
    try {
      if (!handler)
        throw new Error(
          `unknown control command "${req.command}"; this worker knows ${this.commands.names().join(', ')}`,
        )
      const result = await handler(req.args, { worker: this.worker, afterReply: (fn) => after.push(fn) })
      reply = { v: PROTOCOL_VERSION, id: req.id, worker: this.worker.name, ok: true, result: result ?? null }
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err)
      reply = { v: PROTOCOL_VERSION, id: req.id, worker: this.worker.name, ok: false, error }
    }
    if (req.replyTo)
      await this.coordination
        .broadcast(req.replyTo, JSON.stringify(reply))
        .catch((err: Error) =>
          this.o.log.warn({ err: err.message, command: req.command }, 'could not send a control reply'),
        )
    for (const fn of after) fn()
  }
}
