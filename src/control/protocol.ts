/**
 * The remote-control protocol: where revocations and the worker registry live in the
 * coordination part's records, and the shape of requests and replies broadcast between
 * `celeriac inspect|control|revoke` and live workers (as Celery's pidbox). Messages are JSON
 * checked field by field on arrival; nothing in them is evaluated, and a malformed one is
 * dropped.
 */

/** Records of revoked task ids (value: a Revocation), each kept for the revocation's expiry. */
export const REVOKED_SPACE = 'revoked'
/** Records of workers (value: a WorkerInfo), kept an hour after their last heartbeat. */
export const WORKERS_SPACE = 'workers'
/** One record per live worker, lapsing three heartbeats after the last (engine clock). */
export const ALIVE_SPACE = 'workers.alive'
/** The channel every worker listens on for requests (revoke included). */
export const CONTROL_CHANNEL = 'celeriac.control'
/** How long a worker's registry entry is kept after its last heartbeat. */
export const WORKER_RECORD_KEEP_MS = 3_600_000
/** A worker is offline once this many heartbeats in a row are missing. */
export const MISSED_HEARTBEATS = 3

export const PROTOCOL_VERSION = 1

/** A revocation as stored and as broadcast. */
export interface Revocation {
  readonly at: number
  readonly terminate: boolean
}

/** What a worker publishes about itself in the registry and answers to `stats`. */
export interface WorkerInfo {
  readonly name: string
  readonly host: string
  readonly pid: number
  readonly pool: string
  readonly concurrency: number
  readonly prefetch: number
  readonly queues: readonly string[]
  /** Tasks running now. */
  readonly active: number
  readonly processed: number
  readonly failed: number
  readonly succeeded: number
  readonly retried: number
  /** Epoch ms (worker clock). */
  readonly startedAt: number
  readonly heartbeatAt: number
  readonly heartbeatMs: number
  readonly version: string
  /** 'online' while running; 'offline' once it stopped cleanly. */
  readonly state: 'online' | 'offline'
}

export interface ControlRequest {
  readonly v: 1
  /** Unique per request; replies carry it. */
  readonly id: string
  readonly command: string
  readonly args: Record<string, unknown>
  /** Worker names the request is for; null: every worker. */
  readonly destination: readonly string[] | null
  /** Channel to reply on; null: no reply wanted (revoke). */
  readonly replyTo: string | null
}

export type ControlReply =
  | {
      readonly v: 1
      readonly id: string
      readonly worker: string
      readonly ok: true
      readonly result: unknown
    }
  | {
      readonly v: 1
      readonly id: string
      readonly worker: string
      readonly ok: false
      readonly error: string
    }

function object(data: string): Record<string, unknown> | null {
  let v: unknown
  try {
    v = JSON.parse(data)
  } catch {
    return null
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string')

/** A request read from the channel; null for anything that is not one. */
export function parseRequest(data: string): ControlRequest | null {
  const o = object(data)
  if (!o || o.v !== PROTOCOL_VERSION || typeof o.id !== 'string' || typeof o.command !== 'string') return null
  const args = o.args ?? {}
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return null
  if (o.destination !== null && !isStrings(o.destination)) return null
  if (o.replyTo !== null && typeof o.replyTo !== 'string') return null
  return {
    v: 1,
    id: o.id,
    command: o.command,
    args: args as Record<string, unknown>,
    destination: o.destination as string[] | null,
    replyTo: o.replyTo as string | null,
  }
}

/** A reply read from a reply channel; null for anything that is not one. */
export function parseReply(data: string): ControlReply | null {
  const o = object(data)
  if (!o || o.v !== PROTOCOL_VERSION || typeof o.id !== 'string' || typeof o.worker !== 'string') return null
  if (o.ok === true) return { v: 1, id: o.id, worker: o.worker, ok: true, result: o.result ?? null }
  if (o.ok === false && typeof o.error === 'string')
    return { v: 1, id: o.id, worker: o.worker, ok: false, error: o.error }
  return null
}

/** A registry entry; null when it is not one. */
export function parseWorkerInfo(data: string): WorkerInfo | null {
  const o = object(data)
  if (!o || typeof o.name !== 'string' || typeof o.pid !== 'number' || typeof o.heartbeatMs !== 'number')
    return null
  return o as unknown as WorkerInfo
}

/** A stored revocation; a value that is not one still counts as revoked (never run it). */
export function parseRevocation(data: string): Revocation {
  const o = object(data)
  return {
    at: typeof o?.at === 'number' ? o.at : 0,
    terminate: o?.terminate === true,
  }
}
