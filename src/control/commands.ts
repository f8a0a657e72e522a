/**
 * The control commands a worker answers, as a small registry: each command is a name and a
 * handler; features register their own (`worker.control.register('rate-limit', …)`), the
 * built-in ones are below. A handler gets the request's arguments (JSON, checked by the handler)
 * and the worker, and returns a JSON-friendly value that is sent back as the reply.
 */
import { ConfigError } from '../core/errors.js'
import type { ControlledWorker } from './worker-handle.js'

export interface CommandContext {
  readonly worker: ControlledWorker
  /** Runs `fn` once the reply has been sent (shutdown answers before it stops). */
  afterReply(fn: () => void): void
}

export type ControlHandler = (args: Record<string, unknown>, ctx: CommandContext) => unknown

/** Thrown by a handler for a command this worker knows but cannot carry out. */
export class ControlCommandError extends Error {
  override readonly name = 'ControlCommandError'
}

export class ControlCommands {
  private readonly handlers = new Map<string, ControlHandler>()

  constructor() {
    for (const [name, fn] of Object.entries(BUILT_IN)) this.handlers.set(name, fn)
  }

  /** Adds or replaces the handler of a command. */
  register(command: string, handler: ControlHandler): void {
    if (!/^[a-z][a-z0-9-]*$/.test(command))
      throw new ConfigError(
        `a control command name is lower-case letters, digits and dashes, got "${command}"`,
      )
    this.handlers.set(command, handler)
  }

  get(command: string): ControlHandler | undefined {
    return this.handlers.get(command)
  }

  names(): string[] {
    return [...this.handlers.keys()].sort()
  }
}

function count(args: Record<string, unknown>, what: string): number {
  const n = args.n ?? 1
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new ControlCommandError(`${what} takes a positive whole number, got ${JSON.stringify(n)}`)
  return n
}

function queueArg(args: Record<string, unknown>, what: string): string {
  const q = args.queue
  if (typeof q !== 'string' || !q.trim()) throw new ControlCommandError(`${what} needs a queue name`)
  return q.trim()
}

const BUILT_IN: Record<string, ControlHandler> = {
  ping: () => 'pong',
  stats: (_a, { worker }) => worker.statsReply(),
  active: (_a, { worker }) => worker.active(),
  reserved: (_a, { worker }) => worker.reserved(),
  registered: (_a, { worker }) => worker.registered(),
  revoked: (_a, { worker }) => worker.revokedCount(),
  revoke: (args, { worker }) => {
    const ids = Array.isArray(args.ids) ? args.ids.filter((x): x is string => typeof x === 'string') : []
    const ttlMs = typeof args.ttlMs === 'number' && args.ttlMs > 0 ? args.ttlMs : 3 * 3_600_000
    return { running: worker.revoke(ids, ttlMs, args.terminate === true) }
  },
  shutdown: (_a, { worker, afterReply }) => {
    afterReply(() => void worker.stop())
    return 'shutting down'
  },
  'pool-grow': (args, { worker }) => ({ concurrency: worker.resize(count(args, 'pool-grow')) }),
  'pool-shrink': (args, { worker }) => ({ concurrency: worker.resize(-count(args, 'pool-shrink')) }),
  'add-consumer': async (args, { worker }) => ({
    queues: await worker.addQueue(queueArg(args, 'add-consumer')),
  }),
  'cancel-consumer': async (args, { worker }) => ({
    queues: await worker.cancelQueue(queueArg(args, 'cancel-consumer')),
  }),
  'rate-limit': () => {
    throw new ControlCommandError(
      'rate-limit is not supported by this worker yet (no rate limiting built in)',
    )
  },
}
