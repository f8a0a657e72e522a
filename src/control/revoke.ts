/**
 * Revoking tasks from anywhere (`app.revoke`, `result.revoke()`, `celeriac revoke`): the ids are
 * written to the revoked records with an expiry first, then broadcast to live workers. A worker
 * loads the records when it starts and keeps them in memory, so a revoked task that has not
 * started is acknowledged as REVOKED instead of run, by a worker that is running now or one
 * started later (until the revocation expires).
 */
import { randomUUID } from 'node:crypto'
import type { Coordination } from '../contracts/coordination.js'
import { ConfigError } from '../core/errors.js'
import {
  CONTROL_CHANNEL,
  PROTOCOL_VERSION,
  REVOKED_SPACE,
  type ControlRequest,
  type Revocation,
} from './protocol.js'

/** Celery keeps revocations three hours (REVOKE_EXPIRES); so do we unless told otherwise. */
export const DEFAULT_REVOKE_EXPIRES_MS = 3 * 3_600_000

export interface RevokeOptions {
  /**
   * Also stop it if it is running: with a thread or process pool its thread or process is
   * killed; on the async pool its slot is freed at once (its `ctx.signal` is aborted either way).
   */
  readonly terminate?: boolean
  /** How long the revocation is kept, in ms (default 3 hours, or the app's `revokeExpires`). */
  readonly expiresMs?: number
}

/** The coordination part, or an error saying why there is none and what to set. */
export function requireCoordination(c: Coordination | null, what: string): Coordination {
  if (c) return c
  throw new ConfigError(
    `${what} needs a coordination part, and neither this app's broker nor its result backend supplies one ` +
      '(RabbitMQ does not): set resultBackend or coordination (CELERIAC_COORDINATION) to a redis://, postgres:// or sqlite:// URL',
  )
}

export function checkIds(ids: readonly unknown[]): string[] {
  if (!Array.isArray(ids) || ids.length === 0) throw new ConfigError('revoke needs at least one task id')
  for (const id of ids)
    if (typeof id !== 'string' || id === '')
      throw new ConfigError(`a task id must be a non-empty string, got ${JSON.stringify(id)}`)
  return [...new Set(ids as string[])]
}

export async function revokeTasks(
  coordination: Coordination | null,
  ids: readonly string[],
  options: RevokeOptions = {},
): Promise<void> {
  const c = requireCoordination(coordination, 'revoke')
  const unique = checkIds(ids)
  const ttlMs = options.expiresMs ?? DEFAULT_REVOKE_EXPIRES_MS
  if (!(ttlMs > 0 && Number.isFinite(ttlMs)))
    throw new ConfigError(`revoke expiry must be a positive number of ms, got ${ttlMs}`)
  const value: Revocation = { at: Date.now(), terminate: options.terminate === true }
  const json = JSON.stringify(value)
  await c.put(
    REVOKED_SPACE,
    unique.map((key) => ({ key, value: json, ttlMs })),
  )
  const request: ControlRequest = {
    v: PROTOCOL_VERSION,
    id: randomUUID(),
    command: 'revoke',
    args: { ids: unique, terminate: value.terminate, ttlMs },
    destination: null,
    replyTo: null,
  }
  await c.broadcast(CONTROL_CHANNEL, JSON.stringify(request))
}
