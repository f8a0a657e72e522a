/**
 * A batch's plain publishes encoded by celeriac instead of amqplib: the same frames RabbitMQ gets
 * from `ConfirmChannel.sendToQueue` (basic.publish to the default exchange, a content header,
 * one body frame), written for many jobs into one buffer and handed to amqplib's queue of frames
 * for the channel, with one confirm callback per job pushed in the same order.
 *
 * Why: amqplib encodes each publish field by field (method, properties, body frame, then copies
 * them into one buffer) and queues it as a stream chunk of its own; that was about 11 µs of the
 * producer's CPU per job, more than RabbitMQ's confirm wait overlaps. Here the method frame is
 * the same bytes for every job of a queue (cached), the properties are the few celeriac sets,
 * and the body is written once, straight from its string.
 *
 * Only what this file knows how to write takes this path: a job for its work queue, no headers,
 * a body that fits one frame, id and queue names of at most 255 bytes. Anything else, a closed
 * channel, or an amqplib whose internals are not the ones this was written for (2.3:
 * `connection.channels[n].buffer`, `pushConfirmCallback`), goes through amqplib as before.
 * The properties: delivery mode 2 (persistent), content type `text/plain`, message id, priority
 * when not 0; no headers table (amqplib sends an empty one; readers treat both alike).
 */
import type { ConfirmChannel } from 'amqplib'
import type { Writable } from 'node:stream'
import type { Confirm } from './message.js'

const FRAME_METHOD = 1
const FRAME_HEADER = 2
const FRAME_BODY = 3
const FRAME_END = 0xce
const BASIC = 60
const PUBLISH = 40
const CONTENT_TYPE = 'text/plain'
const FLAG_CONTENT_TYPE = 0x8000
const FLAG_DELIVERY_MODE = 0x1000
const FLAG_PRIORITY = 0x0800
const FLAG_MESSAGE_ID = 0x0080
/** Bytes a chunk of frames is allocated with (a batch takes several). */
const CHUNK = 64 * 1024

interface Internals {
  ch: number
  connection: {
    channels: ({ buffer: Writable } | null)[]
    frameMax: number
    sentSinceLastCheck: boolean
  }
  pushConfirmCallback(cb: Confirm | false): void
}

export class PublishFrames {
  private readonly methods = new Map<string, Buffer>()
  private buf = Buffer.allocUnsafe(0)
  private start = 0
  private end = 0

  private constructor(
    private readonly ch: ConfirmChannel,
    private readonly inner: Internals,
  ) {}

  /** The encoder of a confirm channel, or null when amqplib is not the one this was written for. */
  static of(ch: ConfirmChannel): PublishFrames | null {
    const inner = ch as unknown as Partial<Internals>
    const conn = inner.connection
    if (
      typeof inner.ch !== 'number' ||
      typeof inner.pushConfirmCallback !== 'function' ||
      !conn ||
      !Array.isArray(conn.channels) ||
      typeof conn.frameMax !== 'number' ||
      typeof conn.channels[inner.ch]?.buffer?.write !== 'function'
    )
      return null
    return new PublishFrames(ch, inner as Internals)
  }

  /**
   * Appends a persistent publish of `body` to queue `queue` and pushes its confirm callback;
   * false (nothing written) when it must go through amqplib instead. Call flush before anything
   * else writes to the channel, and before returning to the event loop.
   */
  add(queue: string, id: string, priority: number, body: string, confirmed?: Confirm): boolean {
    // A closed channel: amqplib replaced its sendMessage with one that throws; let it.
    if (Object.prototype.hasOwnProperty.call(this.ch, 'sendMessage')) return false
    const n = this.inner.ch
    const method = this.method(queue)
    // 85 UTF-16 units are at most 255 bytes (a short string); a priority is one octet.
    if (!method || id.length > 85 || !(priority >= 0 && priority <= 255 && Number.isInteger(priority)))
      return false
    const maxBody = this.inner.connection.frameMax - 8
    if (body.length * 3 > maxBody && Buffer.byteLength(body) > maxBody) return false
    const idBytes = id.length
    // Header frame payload: class, weight, body size (8), flags, then the properties.
    const props = 1 + CONTENT_TYPE.length + 1 + (priority ? 1 : 0) + 1 + idBytes * 3
    const room = method.length + 7 + 14 + props + 1 + 8 + body.length * 3
    if (this.end + room > this.buf.length) this.grow(room)
    const b = this.buf
    let o = this.end
    o += method.copy(b, o)
    const header = o
    b[o] = FRAME_HEADER
    b.writeUInt16BE(n, o + 1)
    o += 7
    b.writeUInt16BE(BASIC, o)
    b.writeUInt16BE(0, o + 2)
    const bodySize = o + 4
    o += 12
    b.writeUInt16BE(
      FLAG_CONTENT_TYPE | FLAG_DELIVERY_MODE | (priority ? FLAG_PRIORITY : 0) | FLAG_MESSAGE_ID,
      o,
    )
    o += 2
    b[o++] = CONTENT_TYPE.length
    o += b.write(CONTENT_TYPE, o, 'latin1')
    b[o++] = 2
    if (priority) b[o++] = priority
    const idLen = b.write(id, o + 1, 'utf8')
    if (idLen > 255) return false
    b[o] = idLen
    o += 1 + idLen
    b.writeUInt32BE(o - header - 7, header + 3)
    b[o++] = FRAME_END
    let size = 0
    if (body.length) {
      b[o] = FRAME_BODY
      b.writeUInt16BE(n, o + 1)
      size = b.write(body, o + 7, 'utf8')
      b.writeUInt32BE(size, o + 3)
      o += 7 + size
      b[o++] = FRAME_END
    }
    b.writeUInt32BE(0, bodySize)
    b.writeUInt32BE(size, bodySize + 4)
    this.end = o
    this.inner.pushConfirmCallback(confirmed ?? false)
    return true
  }

  /** Hands what was added since the last flush to amqplib's frame queue for the channel. */
  flush(): void {
    if (this.end === this.start) return
    const chunk = this.buf.subarray(this.start, this.end)
    this.start = this.end
    const conn = this.inner.connection
    conn.sentSinceLastCheck = true
    conn.channels[this.inner.ch]!.buffer.write(chunk)
  }

  private grow(room: number): void {
    this.flush()
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, room))
    this.start = this.end = 0
  }

  /** basic.publish on this channel to the default exchange, routing key `queue`: the same bytes every time. */
  private method(queue: string): Buffer | null {
    let m = this.methods.get(queue)
    if (m === undefined) {
      const name = Buffer.from(queue, 'utf8')
      if (name.length > 255) return null
      const payload = 4 + 2 + 1 + 1 + name.length + 1
      m = Buffer.alloc(7 + payload + 1)
      m[0] = FRAME_METHOD
      m.writeUInt16BE(this.inner.ch, 1)
      m.writeUInt32BE(payload, 3)
      m.writeUInt16BE(BASIC, 7)
      m.writeUInt16BE(PUBLISH, 9)
      // ticket 0, exchange '' (length 0), routing key, bits 0 (not mandatory, not immediate)
      m[13] = 0
      m[14] = name.length
      name.copy(m, 15)
      m[15 + name.length] = 0
      m[m.length - 1] = FRAME_END
      this.methods.set(queue, m)
    }
    return m
  }
}
