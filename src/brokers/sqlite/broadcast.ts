/**
 * Broadcast on SQLite: messages are rows of celeriac_broadcast, and subscribers of every process
 * read the rows after the last one they saw whenever the file changes (PRAGMA data_version, see
 * watch.ts). A message is kept a minute, long enough for every live subscriber to have read it.
 */
import type { Db, SqliteDatabase } from './database.js'
import type { Statement } from './statements.js'

/** How long a message stays in the table. */
const KEEP_MS = 60_000
/** Rows read per look. */
const PAGE = 500

interface Subscription {
  readonly channel: string
  /** The newest id when it subscribed: earlier messages are not for it. */
  readonly from: number
  readonly onMessage: (message: string) => void
}

export type BroadcastStatements = Record<'send' | 'prune' | 'newest' | 'after', Statement>

export function broadcastStatements(db: Db): BroadcastStatements {
  return {
    send: db.prepare('INSERT INTO celeriac_broadcast (channel, message, sent_at) VALUES (?, ?, ?)'),
    prune: db.prepare('DELETE FROM celeriac_broadcast WHERE sent_at < ?'),
    newest: db.prepare('SELECT coalesce(max(id), 0) FROM celeriac_broadcast').pluck(),
    after: db.prepare('SELECT id, channel, message FROM celeriac_broadcast WHERE id > ? ORDER BY id LIMIT ?'),
  }
}

export class Broadcaster {
  private readonly subs = new Set<Subscription>()
  private stopping: AbortController | null = null
  private loop: Promise<void> | null = null

  constructor(
    private readonly database: SqliteDatabase,
    private readonly statements: () => BroadcastStatements,
  ) {}

  async send(channel: string, message: string): Promise<void> {
    const st = this.statements()
    const tx = this.database.db.transaction((now: number) => {
      st.prune.run(now - KEEP_MS)
      st.send.run(channel, message, now)
    })
    await this.database.write(tx, Date.now())
    this.database.notify()
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const st = this.statements()
    const from = (await this.database.run(() => st.newest.get())) as number
    const sub: Subscription = { channel, from, onMessage }
    this.subs.add(sub)
    this.loop ??= this.run(from)
    return async () => {
      this.subs.delete(sub)
      if (this.subs.size === 0) await this.stop()
    }
  }

  /** Ends every subscription. */
  async stop(): Promise<void> {
    this.subs.clear()
    this.stopping?.abort()
    await this.loop
  }

  private async run(start: number): Promise<void> {
    const stopping = (this.stopping = new AbortController())
    let last = start
    try {
      while (this.subs.size && !stopping.signal.aborted && this.database.isOpen) {
        const seen = this.database.snapshot()
        const st = this.statements()
        const rows = (await this.database.run(() => st.after.all(last, PAGE))) as {
          id: number
          channel: string
          message: string
        }[]
        for (const r of rows) {
          last = r.id
          for (const s of this.subs) if (s.channel === r.channel && r.id > s.from) deliver(s, r.message)
        }
        if (rows.length < PAGE) await this.database.changed(1000, stopping.signal, seen)
      }
    } catch {
      // The connection closed under the loop: subscriptions end with it.
    } finally {
      this.loop = null
      this.stopping = null
      // Someone subscribed while the last subscription was ending: keep reading for them.
      if (this.subs.size && this.database.isOpen) this.loop = this.run(last)
    }
  }
}

function deliver(s: Subscription, message: string): void {
  try {
    s.onMessage(message)
  } catch {
    // A subscriber's error is its own; the others still get the message.
  }
}
