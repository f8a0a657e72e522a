/**
 * Pub/sub on one subscriber connection, shared by everything one URL's backend listens to (result
 * waits, coordination broadcasts): each channel is subscribed once, however many listen to it, and
 * unsubscribed when the last listener leaves. The connection is opened by the first listener.
 */
import type { RedisClient } from './connection.js'

type Listener = (message: string) => void

interface Channel {
  readonly listeners: Set<Listener>
  /** The SUBSCRIBE in flight or done; later listeners wait for it too. */
  readonly subscribed: Promise<unknown>
}

export class Subscriptions {
  private client: Promise<RedisClient> | null = null
  private readonly channels = new Map<string, Channel>()
  private readonly resubscribed = new Set<() => void>()
  private closed = false

  constructor(private readonly open: () => Promise<RedisClient>) {}

  /**
   * Calls `listener` for each message on `channel` until the returned function is called. Resolves
   * once the server has confirmed the subscription: a message published after that is received.
   */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    const sub = await this.connection()
    let ch = this.channels.get(channel)
    if (!ch) this.channels.set(channel, (ch = { listeners: new Set(), subscribed: sub.subscribe(channel) }))
    const entry = ch
    entry.listeners.add(listener)
    const leave = () => {
      entry.listeners.delete(listener)
      if (entry.listeners.size || this.channels.get(channel) !== entry) return
      this.channels.delete(channel)
      if (!this.closed) sub.unsubscribe(channel).catch(() => {})
    }
    try {
      await entry.subscribed
    } catch (e) {
      leave()
      throw e
    }
    return leave
  }

  /**
   * Calls `fn` after the subscriber connection came back (ioredis subscribes again): a message
   * published while it was away is lost, so listeners re-read what they wait for.
   */
  onResubscribed(fn: () => void): () => void {
    this.resubscribed.add(fn)
    return () => this.resubscribed.delete(fn)
  }

  private connection(): Promise<RedisClient> {
    if (this.closed) return Promise.reject(new Error('closed'))
    this.client ??= this.open().then((sub) => {
      sub.on('message', (channel: string, message: string) => {
        for (const l of this.channels.get(channel)?.listeners ?? []) l(message)
      })
      sub.on('ready', () => this.resubscribed.forEach((fn) => fn()))
      return sub
    })
    this.client.catch(() => (this.client = null))
    return this.client
  }

  /** Drops every subscription and closes the connection. */
  async close(): Promise<void> {
    this.closed = true
    const client = this.client
    this.client = null
    this.channels.clear()
    this.resubscribed.clear()
    if (client) (await client.catch(() => null))?.disconnect()
  }
}
