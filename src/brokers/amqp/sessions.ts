/**
 * Consumer sessions: one per consumer channel, numbered in this process. A delivery's token names
 * its session and delivery tag, and only a live session can settle it: after the channel closed,
 * RabbitMQ has already put its unacknowledged messages back, so those tokens are stale. A tag is
 * settled at most once here, because acknowledging a tag twice would make RabbitMQ close the
 * channel (PRECONDITION_FAILED) and redeliver every other job on it.
 */
import type { Channel, Message } from 'amqplib'
import { parseToken } from './message.js'

export interface Held {
  readonly msg: Message
  readonly queue: string
  /** When it arrived (epoch ms): held past half the consumer_timeout, it is handed over (leases.ts). */
  readonly at: number
  /** Being handed over to a lease queue now. */
  leasing?: boolean
}

export class Session {
  readonly held = new Map<number, Held>()
  live = true
  /** Set when its consumption stopped: the channel closes once nothing is held. */
  draining = false

  constructor(
    readonly id: number,
    readonly channel: Channel,
  ) {}

  /** Takes a held message out (to settle it); undefined when stale. */
  take(tag: number): Held | undefined {
    if (!this.live) return undefined
    const h = this.held.get(tag)
    if (h) this.held.delete(tag)
    return h
  }

  /**
   * Acknowledges messages just taken out (take), in as few frames as it can: every tag below the
   * oldest one still held has been settled already (each is taken and acked or nacked in one
   * synchronous step) or is in `taken`, so the taken ones below it go out as one `multiple` ack;
   * the others one by one. Held keeps arrival order, and RabbitMQ numbers a channel's deliveries
   * in ascending order, so the first held tag is the oldest. A `multiple` ack is one frame for
   * RabbitMQ to read and one settle per queue instead of one per message (docs/benchmarks.md).
   */
  ack(taken: readonly Held[]): void {
    if (!taken.length) return
    let oldest = Infinity
    for (const tag of this.held.keys()) {
      oldest = tag
      break
    }
    let top: Held | undefined
    let below = 0
    for (const h of taken) {
      const tag = h.msg.fields.deliveryTag
      if (tag >= oldest) this.channel.ack(h.msg)
      else {
        below++
        if (!top || tag > top.msg.fields.deliveryTag) top = h
      }
    }
    if (top) this.channel.ack(top.msg, below > 1)
  }

  closeIfDrained(): void {
    if (this.draining && this.live && !this.held.size) {
      this.live = false
      this.channel.close().catch(() => {})
    }
  }
}

/**
 * Session numbers are unique in the process, not per broker object: a token of one broker object
 * presented to another (two clients in one process) is then unknown there, never someone else's.
 */
let nextSession = 1

export class Sessions {
  private readonly all = new Map<number, Session>()

  open(channel: Channel): Session {
    const s = new Session(nextSession++, channel)
    this.all.set(s.id, s)
    channel.on('close', () => {
      s.live = false
      s.held.clear()
      this.all.delete(s.id)
    })
    return s
  }

  /**
   * The live session and held message of a ref, if it is still settleable: the token names a live
   * session's held delivery and that delivery is of the ref's job (a token presented with another
   * job's id is stale).
   */
  find(ref: {
    readonly id: string
    readonly token: string
  }): { session: Session; held: Held; tag: number } | undefined {
    const t = parseToken(ref.token)
    const session = t && this.all.get(t.session)
    const held = session?.live ? session.held.get(t!.tag) : undefined
    if (!held || String(held.msg.properties.messageId ?? '') !== ref.id) return undefined
    return { session: session!, held, tag: t!.tag }
  }

  /** Jobs held by this process's consumers, per queue. */
  active(queue: string): number {
    let n = 0
    for (const s of this.all.values()) for (const h of s.held.values()) if (h.queue === queue) n++
    return n
  }
}
