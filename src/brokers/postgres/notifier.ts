/**
 * LISTEN/NOTIFY on one dedicated connection (a LISTEN lives on its session, so it cannot use a
 * pooled client). Parts register handlers per channel; a handler gets each payload, or null when
 * notifications may have been missed (the connection dropped and came back), so waiters look
 * again instead of sleeping through work. While it is down it reconnects with capped backoff.
 */
import type { Client, Notification } from 'pg'

type Handler = (payload: string | null) => void

const MAX_BACKOFF_MS = 2000

export class Notifier {
  private client: Client | null = null
  private connecting: Promise<Client> | null = null
  private readonly handlers = new Map<string, Set<Handler>>()
  /** Channels LISTENed on the current connection. */
  private readonly listening = new Set<string>()
  private closed = false

  constructor(private readonly open: () => Promise<Client>) {}

  /** Whether notifications are flowing now; waiters poll while they are not. */
  get live(): boolean {
    return this.client !== null
  }

  /**
   * Calls `handler` for each notification on `channel` from now on. Resolves once the LISTEN is
   * in place (or, when the database is unreachable, once the handler is registered: it is called
   * with null when the connection comes back). The returned function removes it.
   */
  async on(channel: string, handler: Handler): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel)
    if (!set) this.handlers.set(channel, (set = new Set()))
    set.add(handler)
    try {
      const client = await this.connection()
      if (!this.listening.has(channel)) {
        this.listening.add(channel)
        await client.query(`LISTEN "${channel}"`)
      }
    } catch {
      // Down: the reconnect loop listens again and tells every handler to look again.
      this.dropConnection()
    }
    return async () => {
      set.delete(handler)
      if (set.size || this.handlers.get(channel) !== set) return
      this.handlers.delete(channel)
      if (this.listening.delete(channel)) await this.client?.query(`UNLISTEN "${channel}"`).catch(() => {})
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.handlers.clear()
    const client = this.client ?? (await this.connecting?.catch(() => null))
    this.client = null
    this.listening.clear()
    await client?.end().catch(() => {})
  }

  private connection(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client)
    this.connecting ??= this.open()
      .then((client) => {
        if (this.closed) {
          void client.end().catch(() => {})
          throw new Error('closed')
        }
        client.on('notification', (n: Notification) => this.deliver(n.channel, n.payload ?? ''))
        client.on('error', () => this.dropConnection())
        client.on('end', () => this.dropConnection())
        this.client = client
        return client
      })
      .finally(() => (this.connecting = null))
    return this.connecting
  }

  private deliver(channel: string, payload: string | null): void {
    for (const h of this.handlers.get(channel) ?? []) {
      try {
        h(payload)
      } catch {
        // A handler's error is its own; the others still hear the notification.
      }
    }
  }

  private reconnecting = false

  /** Forgets a broken connection and reconnects in the background while handlers remain. */
  private dropConnection(): void {
    const old = this.client
    this.client = null
    this.listening.clear()
    if (old) void old.end().catch(() => {})
    if (this.closed || this.reconnecting) return
    this.reconnecting = true
    void (async () => {
      let delay = 50
      while (!this.closed && this.handlers.size) {
        await new Promise((r) => setTimeout(r, delay))
        try {
          const client = await this.connection()
          for (const channel of this.handlers.keys()) {
            this.listening.add(channel)
            await client.query(`LISTEN "${channel}"`)
          }
          // Whatever was sent while it was down is lost: every handler looks again.
          for (const channel of [...this.handlers.keys()]) this.deliver(channel, null)
          break
        } catch {
          this.client = null
          this.listening.clear()
          delay = Math.min(delay * 2, MAX_BACKOFF_MS)
        }
      }
      this.reconnecting = false
    })()
  }
}
