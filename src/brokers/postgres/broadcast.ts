/**
 * Broadcast on PostgreSQL: NOTIFY on one channel of the schema (`<schema>.broadcast`), the
 * payload a JSON pair [channel, message]; subscribers of every process LISTEN on it through the
 * backend's notifier and keep the messages of their own channels. Nothing is kept for later
 * subscribers. A NOTIFY payload holds under 8000 bytes, so a larger message is refused.
 */
import { BrokerError } from '../../core/errors.js'
import type { PgDatabase } from './database.js'
import { BROADCAST } from './sql/coordination.js'

const MAX_PAYLOAD_BYTES = 7999

export class Broadcaster {
  private readonly subs = new Map<string, Set<(message: string) => void>>()
  private listening: Promise<() => Promise<void>> | null = null

  constructor(private readonly db: () => PgDatabase) {}

  private get channel(): string {
    return this.db().channel('broadcast')
  }

  async send(channel: string, message: string): Promise<void> {
    const payload = JSON.stringify([channel, message])
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES)
      throw new BrokerError(
        `broadcast on "${channel}": the message is ${Buffer.byteLength(message)} bytes; PostgreSQL NOTIFY carries under 8000`,
      )
    await this.db().run(BROADCAST, [this.channel, payload])
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    let set = this.subs.get(channel)
    if (!set) this.subs.set(channel, (set = new Set()))
    set.add(onMessage)
    this.listening ??= this.db().notifier.on(this.channel, (p) => this.deliver(p))
    await this.listening
    return async () => {
      set.delete(onMessage)
      if (set.size === 0 && this.subs.get(channel) === set) this.subs.delete(channel)
      if (this.subs.size === 0) await this.stop()
    }
  }

  /** Ends every subscription. */
  async stop(): Promise<void> {
    this.subs.clear()
    const listening = this.listening
    this.listening = null
    await (
      await listening
    )?.()
  }

  private deliver(payload: string | null): void {
    // null: the connection came back; what was sent meanwhile is gone, as for a late subscriber.
    if (payload === null) return
    let pair: unknown
    try {
      pair = JSON.parse(payload)
    } catch {
      return
    }
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return
    for (const fn of this.subs.get(pair[0]) ?? []) {
      try {
        fn(pair[1])
      } catch {
        // A subscriber's error is its own; the others still get the message.
      }
    }
  }
}
