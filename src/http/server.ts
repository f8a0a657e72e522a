/**
 * Closing a Node HTTP server gracefully: stop accepting connections, let open requests finish,
 * then wait for their background work. Used by the Hono and Express integrations (Fastify has
 * its own `close()`).
 */
import { type Duration, toMs } from '../core/duration.js'
import type { BackgroundRunner } from './background.js'

/** A server that can stop accepting connections: node:http's, or anything with that `close`. */
export interface ClosableServer {
  close(callback?: (err?: Error) => void): unknown
  closeIdleConnections?(): void
}

/**
 * Stops the server accepting connections, waits for open requests, then drains the runner; the
 * whole takes at most `timeoutMs` (default: the runner's shutdownTimeout). Resolves as `drain`.
 *
 * @example
 * const server = app.listen(3000)
 * process.once('SIGTERM', async () => process.exit((await closeServer(server, bg.runner)) ? 0 : 1))
 */
export async function closeServer(
  server: ClosableServer,
  runner: BackgroundRunner,
  timeoutMs: Duration = runner.shutdownTimeoutMs,
): Promise<boolean> {
  const deadline = Date.now() + toMs(timeoutMs, 'timeoutMs')
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeIdleConnections?.()
    }),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
  ])
  clearTimeout(timer)
  return runner.drain(Math.max(0, deadline - Date.now()))
}

/** The shutdown helpers the Hono and Express middlewares carry. */
export interface ShutdownHelpers {
  readonly runner: BackgroundRunner
  /** Waits for background work (see `BackgroundRunner.drain`). */
  drain(timeoutMs?: Duration): Promise<boolean>
  /** Closes a Node server, then drains (see `closeServer`). */
  close(server: ClosableServer, timeoutMs?: Duration): Promise<boolean>
}

/** Attaches `runner`, `drain` and `close` to a middleware function. */
export function withShutdown<F extends object>(middleware: F, runner: BackgroundRunner): F & ShutdownHelpers {
  return Object.assign(middleware, {
    runner,
    drain: (timeoutMs?: Duration) => runner.drain(timeoutMs),
    close: (server: ClosableServer, timeoutMs?: Duration) => closeServer(server, runner, timeoutMs),
  })
}
