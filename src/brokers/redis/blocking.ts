/**
 * Waiting for work without polling: BLPOP on the queues' wake lists, on connections kept for it
 * (reused). On one server a wait is one BLPOP over all its wake lists. On a Cluster, keys of
 * different slots cannot share a BLPOP, so a wait runs one BLPOP per slot, each on a plain
 * connection to the node serving it, and the first to return ends the others.
 *
 * An abort resolves at once and unblocks the connection with CLIENT UNBLOCK; a marker taken by a
 * waiter that already left is put back for the others.
 */
import { connectionTo, isCluster, keySlot, nodeOf } from './cluster.js'
import type { RedisClient } from './connection.js'
import type { RedisNode } from './keys.js'

interface Conn {
  readonly client: RedisClient
  /** The Cluster node it is connected to; null on one server. */
  readonly node: RedisNode | null
  /** CLIENT ID on the server, learnt before the first BLPOP (and again after a reconnect). */
  id: number | null
  /** The wait in progress, so that a late CLIENT UNBLOCK never hits the next one. */
  current: object | null
}

interface Route {
  readonly node: RedisNode | null
  readonly keys: string[]
}

const nodeKey = (node: RedisNode | null) => (node ? `${node.host}:${node.port}` : '')

export class Blocker {
  /** Idle connections by node key ('' on one server). */
  private readonly idle = new Map<string, Conn[]>()
  private readonly all = new Set<Conn>()
  private closed = false

  constructor(
    /** Opens a blocking connection: to the server, or to one Cluster node. */
    private readonly open: (node: RedisNode | null) => Promise<RedisClient>,
    /** The non-blocking client, for CLIENT UNBLOCK, putting markers back and Cluster routing. */
    private readonly main: () => RedisClient,
  ) {}

  /**
   * Blocks until one of `wakeKeys` gets a marker, `ms` pass or `signal` aborts. Rejects if the
   * connection fails (Redis is away).
   */
  async wait(wakeKeys: readonly string[], ms: number, signal?: AbortSignal): Promise<void> {
    if (ms < 1 || signal?.aborted || this.closed) return
    const routes = this.routes(wakeKeys)
    if (!routes.length) return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 100)))
    if (routes.length === 1) return this.waitOn(routes[0]!, ms, signal)
    const first = new AbortController()
    const onAbort = () => first.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await Promise.race(
        routes.map((r) => {
          const p = this.waitOn(r, ms, first.signal)
          p.catch(() => {})
          return p
        }),
      )
    } finally {
      first.abort()
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** One BLPOP over all keys on one server; one per slot (on the node serving it) on a Cluster. */
  private routes(keys: readonly string[]): Route[] {
    const client = this.main()
    if (!isCluster(client)) return [{ node: null, keys: [...keys] }]
    const bySlot = new Map<number, Route>()
    for (const k of keys) {
      const node = nodeOf(client, k)
      if (!node) continue // slots not known yet: that queue is looked at again after the wait
      const slot = keySlot(k)
      const r = bySlot.get(slot)
      if (r) r.keys.push(k)
      else bySlot.set(slot, { node, keys: [k] })
    }
    return [...bySlot.values()]
  }

  private async waitOn(route: Route, ms: number, signal?: AbortSignal): Promise<void> {
    const conn = this.idle.get(nodeKey(route.node))?.pop() ?? (await this.create(route.node))
    if (conn.id === null) {
      try {
        conn.id = (await conn.client.call('CLIENT', ['ID'])) as number
      } catch (e) {
        this.release(conn)
        throw e
      }
    }
    let gone = false
    const current = {}
    conn.current = current
    const blpop = conn.client
      .call('BLPOP', [...route.keys, (ms / 1000).toFixed(3)])
      .then((r) => {
        // The waiter left (aborted) but took a marker: give it back so another consumer wakes.
        if (gone && Array.isArray(r) && typeof r[0] === 'string')
          this.main()
            .call('RPUSH', [r[0], '1'])
            .catch(() => {})
      })
      .catch((e: unknown) => {
        if (this.closed) return
        // The slot moved to another node: learn the new layout; the caller looks again.
        if (e instanceof Error && /^(MOVED|ASK) /.test(e.message)) {
          const main = this.main()
          if (isCluster(main)) main.refreshSlotsCache()
          return
        }
        throw e
      })
      .finally(() => {
        conn.current = null
        if (this.closed) conn.client.disconnect()
        else this.release(conn)
      })
    if (!signal) return blpop
    let onAbort = () => {}
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => {
        gone = true
        this.unblock(conn, current)
        resolve()
      }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
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
    const control = conn.node ? connectionTo(this.main(), conn.node) : this.main()
    control
      ?.call('CLIENT', ['UNBLOCK', conn.id])
      .then((n) => {
        // 0: the BLPOP has not reached the server yet; try again shortly.
        if (n === 0 && attempt < 5) setTimeout(() => this.unblock(conn, wait, attempt + 1), 10)
      })
      .catch(() => {})
  }

  private release(conn: Conn): void {
    const key = nodeKey(conn.node)
    const list = this.idle.get(key)
    if (list) list.push(conn)
    else this.idle.set(key, [conn])
  }

  private async create(node: RedisNode | null): Promise<Conn> {
    const client = await this.open(node)
    const conn: Conn = { client, node, id: null, current: null }
    client.on('close', () => (conn.id = null))
    this.all.add(conn)
    return conn
  }

  /** Ends pending waits (they resolve as timed out) and closes the connections. */
  close(): void {
    this.closed = true
    for (const c of this.all) c.client.disconnect()
    this.all.clear()
    this.idle.clear()
  }
}
