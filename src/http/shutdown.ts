/**
 * The state of one server's shutdown, shared by the Fastify, Hono and Express integrations: which
 * requests still have a response on its way, and the clock that bounds the whole shutdown.
 *
 * One limit covers everything (closing connections, finishing open requests, draining background
 * work), and it starts when closing starts, not when the drain starts: otherwise a keep-alive
 * connection that the HTTP server waits for would not count, and the limit would only bound the
 * last step. Nothing here imports a framework or node:http.
 */

/** How a shutdown went, for an app that chooses its exit code (`process.exit(r.finished ? 0 : 1)`). */
export interface ShutdownReport {
  /** Every open request and all background work finished within the limit. */
  readonly finished: boolean
  /** Requests whose connection was closed at the deadline before their response was sent. */
  readonly requestsCut: number
  /** Background functions given up on: `'name (running)'` or `'name (not started)'`. */
  readonly abandoned: readonly string[]
  /** The limit the whole shutdown had, in ms. */
  readonly timeoutMs: number
  /** How long the shutdown took, in ms. */
  readonly tookMs: number
}

/** The part of a Node `ServerResponse` used to ask for the connection to close after it. */
export interface ResponseLike {
  readonly headersSent: boolean
  setHeader(name: string, value: string): unknown
}

/** When a shutdown started and the limit it has. */
export interface ShutdownClock {
  /** Epoch ms when closing started. */
  readonly since: number
  readonly limitMs: number
  /** Epoch ms after which nothing more is waited for. */
  readonly deadline: number
}

/** A response not yet started gets `Connection: close`, so its keep-alive connection ends with it. */
function closeConnectionAfter(response: ResponseLike | undefined): void {
  if (!response || response.headersSent) return
  try {
    response.setHeader('Connection', 'close')
  } catch {
    // headers went out between the check and here: the idle-connection sweep closes it
  }
}

/**
 * Open requests and the shutdown clock of one server (one per `BackgroundRunner`).
 *
 * @example
 * const state = new ShutdownState()
 * state.requestStarted(key, res)      // in the middleware
 * state.requestEnded(key)             // when the response finished or the connection closed
 * state.begin(10_000)                 // on close: from now on, responses ask for Connection: close
 */
export class ShutdownState {
  private readonly open = new Map<object, ResponseLike | undefined>()
  private readonly listeners = new Set<() => void>()
  private readonly closingListeners = new Set<() => void>()
  private current: ShutdownClock | null = null

  /** The outcome of the last completed `close()`, or null before one. */
  report: ShutdownReport | null = null

  /** Whether closing has started. */
  get closing(): boolean {
    return this.current !== null
  }

  /** The clock of the shutdown under way, or null. */
  get clock(): ShutdownClock | null {
    return this.current
  }

  /** Requests whose response has not finished. */
  get openRequests(): number {
    return this.open.size
  }

  /** Starts the clock (the first call wins; later calls return the same clock). */
  begin(limitMs: number): ShutdownClock {
    if (this.current) return this.current
    const since = Date.now()
    this.current = { since, limitMs, deadline: since + limitMs }
    for (const response of this.open.values()) closeConnectionAfter(response)
    for (const listener of [...this.closingListeners]) listener()
    this.closingListeners.clear()
    return this.current
  }

  /** Ms left before the deadline (0 once passed); undefined before closing starts. */
  timeLeft(): number | undefined {
    return this.current ? Math.max(0, this.current.deadline - Date.now()) : undefined
  }

  /** A request came in; `response` is its Node response where there is one. */
  requestStarted(key: object, response?: ResponseLike): void {
    this.open.set(key, response)
    if (this.current) closeConnectionAfter(response)
  }

  /** Its response finished or its connection closed; idempotent. */
  requestEnded(key: object): void {
    if (!this.open.delete(key)) return
    for (const listener of this.listeners) listener()
  }

  /**
   * Calls `listener` once when closing starts (at once if it has started): what holds a response
   * open on purpose, such as an event stream, ends it then. Returns the function that stops it.
   */
  onClosing(listener: () => void): () => void {
    if (this.current) {
      listener()
      return () => {}
    }
    this.closingListeners.add(listener)
    return () => this.closingListeners.delete(listener)
  }

  /** Calls `listener` each time a request ends; returns the function that stops it. */
  onRequestEnded(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
