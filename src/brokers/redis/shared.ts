/**
 * The connections of one Redis URL, shared by its broker, result store and coordination parts: one
 * client for commands (opened by connect()), connections for blocking waits (opened when a wait
 * first needs one, then reused) and one subscriber connection for pub/sub (opened by the first
 * subscription). Whoever made it closes it, once: the backend of src/brokers/redis/index.ts for
 * its parts, or a part made from a URL alone for itself.
 */
import { BrokerError } from '../../core/errors.js'
import { Blocker } from './blocking.js'
import { openClient, openNode, type RedisClient } from './connection.js'
import { parseRedisUrl, type RedisTarget } from './keys.js'
import { Subscriptions } from './pubsub.js'

/** Blocking waits are bounded by the caller; this only catches a connection that went silent. */
const BLOCKING_TIMEOUT_MS = 30_000

export class RedisConnection {
  readonly target: RedisTarget
  /** URL scheme, lower case. */
  readonly scheme: string
  readonly prefix: string
  private client: RedisClient | null = null
  private connecting: Promise<void> | null = null
  private waits: Blocker | null = null
  private pubsub: Subscriptions | null = null
  private readonly reconnected = new Set<() => void>()

  /** `role` names its connections in CLIENT LIST: `celeriac:<role>`, `-wait`, `-sub`. */
  constructor(
    url: string,
    private readonly role = 'backend',
  ) {
    this.target = parseRedisUrl(url)
    this.scheme = url.slice(0, url.indexOf(':')).toLowerCase()
    this.prefix = this.target.prefix
  }

  /** Opens the command client. Idempotent; after close() it opens again. */
  async connect(): Promise<void> {
    this.connecting ??= (async () => {
      const client = await openClient(this.target, this.role)
      // After a reconnect the server may have lost data (a restart without persistence).
      client.on('ready', () => this.reconnected.forEach((fn) => fn()))
      this.client = client
      const wait = `${this.role}-wait`
      this.waits = new Blocker(
        (node) =>
          node
            ? openNode(this.target, node, wait, { blockingTimeout: BLOCKING_TIMEOUT_MS })
            : openClient(this.target, wait, { blockingTimeout: BLOCKING_TIMEOUT_MS }),
        () => this.redis(),
      )
      this.pubsub = new Subscriptions(() => openClient(this.target, `${this.role}-sub`))
    })().catch((e: unknown) => {
      this.connecting = null
      throw e
    })
    await this.connecting
  }

  /** Closes every connection; pending blocking waits resolve as timed out. Idempotent. */
  async close(): Promise<void> {
    const { client, waits, pubsub } = this
    this.client = null
    this.waits = null
    this.pubsub = null
    this.connecting = null
    waits?.close()
    await pubsub?.close()
    if (client) await client.quit().catch(() => client.disconnect())
  }

  get connected(): boolean {
    return this.client !== null
  }

  /** The command client; a BrokerError naming `what` (the part) when not connected. */
  redis(what = 'redis'): RedisClient {
    if (!this.client)
      throw new BrokerError(`${what} at ${this.target.safeUrl} is not connected: call connect() first`)
    return this.client
  }

  /** Blocking waits (BLPOP) on connections of their own; null when not connected. */
  get blocker(): Blocker | null {
    return this.waits
  }

  subscriptions(what = 'redis'): Subscriptions {
    if (!this.pubsub)
      throw new BrokerError(`${what} at ${this.target.safeUrl} is not connected: call connect() first`)
    return this.pubsub
  }

  /** Calls `fn` each time the command client comes back after losing its connection. */
  onReconnect(fn: () => void): () => void {
    this.reconnected.add(fn)
    return () => this.reconnected.delete(fn)
  }
}

/** A part's connection: the one it was given (shared, closed by its maker) or its own for a URL. */
export function connectionOf(
  from: string | RedisConnection,
  role: string,
): { conn: RedisConnection; owned: boolean } {
  return typeof from === 'string'
    ? { conn: new RedisConnection(from, role), owned: true }
    : { conn: from, owned: false }
}
