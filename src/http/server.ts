/**
 * Closing a Node HTTP server within one limit: stop accepting connections, let open requests
 * finish, close keep-alive connections as soon as they are idle, cut what is still open at the
 * deadline, then wait for background work until that same deadline. `closeServer` does it all
 * (Hono, Express); the Fastify plugin uses `holdToDeadline` from its `preClose` hook, because
 * Fastify closes its server itself.
 */
import { type Duration } from '../core/duration.js'
import type { BackgroundRunner } from './background.js'

/** A server that can stop accepting connections: node:http's, or anything with that `close`. */
export interface ClosableServer {
  close(callback?: (err?: Error) => void): unknown
  closeIdleConnections?(): void
  closeAllConnections?(): void
}

/** A closing server held to the shutdown deadline. */
export interface HeldServer {
  /** Resolves at the deadline (after cutting what is open), unless stopped first. */
  readonly deadline: Promise<void>
  /** Requests that were still open when their connections were cut at the deadline. */
  readonly requestsCut: number
  /** Stops the timer and the idle-connection sweep. */
  stop(): void
}

/**
 * Holds a closing server to the runner's shutdown deadline (the shutdown must have begun).
 * `server.close()` alone waits for every keep-alive connection to time out by itself (72 s on
 * Fastify, 5 s on plain Node), even once its last request is answered: so idle connections are
 * closed now and each time a request ends, and all connections at the deadline.
 *
 * @example
 * runner.beginShutdown()
 * const held = holdToDeadline(server, runner)
 * server.close(() => held.stop())
 */
export function holdToDeadline(server: ClosableServer, runner: BackgroundRunner): HeldServer {
  const closeIdle = (): void => server.closeIdleConnections?.()
  // After the response's own 'finish' handling, so that Node counts the connection idle.
  const stopSweep = runner.shutdown.onRequestEnded(() => setImmediate(closeIdle))
  closeIdle()
  let requestsCut = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      requestsCut = runner.shutdown.openRequests
      server.closeAllConnections?.()
      resolve()
    }, runner.shutdown.timeLeft() ?? runner.shutdownTimeoutMs)
  })
  return {
    deadline,
    get requestsCut() {
      return requestsCut
    },
    stop() {
      clearTimeout(timer)
      stopSweep()
    },
  }
}

/**
 * Stops the server accepting connections, lets open requests finish, then drains the runner;
 * the whole takes at most `timeoutMs` (default: the runner's shutdownTimeout), counted from this
 * call. Resolves true when every request and all background work finished in time; the details
 * are in `runner.report`.
 *
 * @example
 * const server = app.listen(3000)
 * process.once('SIGTERM', async () => process.exit((await closeServer(server, bg.runner)) ? 0 : 1))
 */
export async function closeServer(
  server: ClosableServer,
  runner: BackgroundRunner,
  timeoutMs?: Duration,
): Promise<boolean> {
  runner.beginShutdown(timeoutMs)
  const held = holdToDeadline(server, runner)
  // A server without closeAllConnections may still be open at the deadline: stop waiting then.
  await Promise.race([new Promise<void>((resolve) => server.close(() => resolve())), held.deadline])
  held.stop()
  const drained = await runner.drain()
  return runner.endShutdown(held.requestsCut, drained).finished
}

/** The shutdown helpers the Hono and Express middlewares carry. */
export interface ShutdownHelpers {
  readonly runner: BackgroundRunner
  /** Waits for background work (see `BackgroundRunner.drain`). */
  drain(timeoutMs?: Duration): Promise<boolean>
  /** Closes a Node server, then drains, within one limit (see `closeServer`). */
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
