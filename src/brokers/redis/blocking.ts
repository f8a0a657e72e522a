/**
 * Waiting for work without polling: BLPOP on the queues' wake lists, on connections kept for it
 * (one per concurrent waiter, reused). An abort resolves at once and unblocks the connection with
 * CLIENT UNBLOCK; a marker taken by a waiter that already left is put back for the others.
 */
import type { RedisClient } from './connection.js'

interface Conn {
  readonly client: RedisClient
  /** CLIENT ID on the server, learnt before the first BLPOP (and again after a reconnect). */
  id: number | null
  /** The wait in progress, so that a late CLIENT UNBLOCK never hits the next one. */
  current: object | null
}

export class Blocker {
  private readonly idle: Conn[] = []
  private readonly all = new Set<Conn>()
  private closed = false

  constructor(
    private readonly open: () => Promise<RedisClient>,
    /** A non-blocking client, for CLIENT UNBLOCK and putting markers back. */
    private readonly main: () => RedisClient,
  ) {}

  /**
   * Blocks until one of `wakeKeys` gets a marker, `ms` pass or `signal` aborts. Rejects if the
   * connection fails (Redis is away).
   */
  async wait(wakeKeys: readonly string[], ms: number, signal?: AbortSignal): Promise<void> {
    if (ms < 1 || signal?.aborted || this.closed) return
    const conn = this.idle.pop() ?? (await this.create())
    if (conn.id === null) {
      try {
        conn.id = (await conn.client.call('CLIENT', ['ID'])) as number
      } catch (e) {
        this.idle.push(conn)
        throw e
      }
    }
    let gone = false
    const current = {}
    conn.current = current
    const blpop = conn.client
      .call('BLPOP', [...wakeKeys, (ms / 1000).toFixed(3)])
      .then((r) => {
        // The waiter left (aborted) but took a marker: give it back so another consumer wakes.
        if (gone && Array.isArray(r) && typeof r[0] === 'string')
          this.main()
            .call('RPUSH', [r[0], '1'])
            .catch(() => {})
      })
      .catch((e: unknown) => {
        if (!this.closed) throw e
      })
      .finally(() => {
        conn.current = null
        if (this.closed) conn.client.disconnect()
        else this.idle.push(conn)
      })
    if (!signal) return blpop
    let onAbort = () => {}
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => {
        gone = true
        this.unblock(conn, current)
        resolve()
      }
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      await Promise.race([blpop, aborted])
    } finally {
      signal.removeEventListener('abort', onAbort)
      blpop.catch(() => {})
    }
  }

  private unblock(conn: Conn, wait: object, attempt = 0): void {
    if (conn.id === null || this.closed || conn.current !== wait) return
    this.main()
      .call('CLIENT', ['UNBLOCK', conn.id])
      .then((n) => {
        // 0: the BLPOP has not reached the server yet; try again shortly.
        if (n === 0 && attempt < 5) setTimeout(() => this.unblock(conn, wait, attempt + 1), 10)
      })
      .catch(() => {})
  }

  private async create(): Promise<Conn> {
    const client = await this.open()
    const conn: Conn = { client, id: null, current: null }
    client.on('close', () => (conn.id = null))
    this.all.add(conn)
    return conn
  }

  /** Ends pending waits (they resolve as timed out) and closes the connections. */
  close(): void {
    this.closed = true
    for (const c of this.all) c.client.disconnect()
    this.all.clear()
    this.idle.length = 0
  }
}
