/**
 * The requesting side of inspect and control: a request is broadcast on the control channel
 * with a fresh reply channel, and replies are collected until the timeout, or until every
 * worker named in `destination` has answered. Also the registry, read as a list of workers that
 * are online or offline.
 */
import { randomUUID } from 'node:crypto'
import type { Coordination } from '../contracts/coordination.js'
import {
  ALIVE_SPACE,
  CONTROL_CHANNEL,
  PROTOCOL_VERSION,
  WORKERS_SPACE,
  parseReply,
  parseWorkerInfo,
  type ControlReply,
  type ControlRequest,
  type WorkerInfo,
} from './protocol.js'

export interface RequestOptions {
  /** Only these workers answer (names as in the registry); default: every worker. */
  readonly destination?: readonly string[]
  /** How long to collect replies (default 1000 ms, as Celery's inspect). */
  readonly timeoutMs?: number
  readonly args?: Record<string, unknown>
}

/** Broadcasts a command and resolves with the replies that came in time, by worker name. */
export async function request(
  coordination: Coordination,
  command: string,
  options: RequestOptions = {},
): Promise<ControlReply[]> {
  const timeoutMs = options.timeoutMs ?? 1000
  const req: ControlRequest = {
    v: PROTOCOL_VERSION,
    id: randomUUID(),
    command,
    args: options.args ?? {},
    destination: options.destination?.length ? [...options.destination] : null,
    replyTo: `celeriac.reply.${randomUUID()}`,
  }
  const replies = new Map<string, ControlReply>()
  let done!: () => void
  const finished = new Promise<void>((r) => (done = r))
  const unsubscribe = await coordination.subscribe(req.replyTo!, (m) => {
    const reply = parseReply(m)
    if (!reply || reply.id !== req.id || replies.has(reply.worker)) return
    replies.set(reply.worker, reply)
    if (req.destination && req.destination.every((w) => replies.has(w))) done()
  })
  const timer = setTimeout(done, timeoutMs)
  try {
    await coordination.broadcast(CONTROL_CHANNEL, JSON.stringify(req))
    await finished
  } finally {
    clearTimeout(timer)
    await unsubscribe()
  }
  return [...replies.values()].sort((a, b) => a.worker.localeCompare(b.worker))
}

export interface WorkerEntry extends WorkerInfo {
  /** Heard from within the last three heartbeats (engine clock), and not stopped. */
  readonly online: boolean
}

/** The registry: every worker heard from in the last hour, online ones first, then by name. */
export async function listWorkers(coordination: Coordination): Promise<WorkerEntry[]> {
  const [entries, alive] = await Promise.all([
    coordination.list(WORKERS_SPACE),
    coordination.list(ALIVE_SPACE),
  ])
  const live = new Set(alive.map((r) => r.key))
  const out: WorkerEntry[] = []
  for (const r of entries) {
    const info = parseWorkerInfo(r.value)
    if (info) out.push({ ...info, online: info.state === 'online' && live.has(r.key) })
  }
  return out.sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name))
}
