/**
 * The one RabbitMQ connection a backend's parts share, and its channels. amqplib (an optional
 * peer dependency) is imported here, on connect.
 *
 * Connection policy: a call made while RabbitMQ is away fails at once with a BrokerError (nothing
 * is queued in memory); in the background the connection is reopened with a capped exponential
 * backoff, and listeners (`onChange`) hear when it goes and comes back, so consumers resubscribe
 * by themselves. Every successful open gets a new `generation`: deliveries of an earlier one can
 * no longer be settled.
 */
import { hostname } from 'node:os'
import type { Writable } from 'node:stream'
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib'
import { BrokerError, ConfigError, redactUrl } from '../../core/errors.js'
import type { AmqpTarget } from './url.js'

type Amqplib = typeof import('amqplib')

async function amqplib(): Promise<Amqplib> {
  try {
    return await import('amqplib')
  } catch (cause) {
    throw new ConfigError('the amqp:// backend needs the amqplib package: npm install amqplib', { cause })
  }
}

const MAX_BACKOFF_MS = 3_000

/** The part of amqplib's frame multiplexer (lib/mux.js) that coalesceWrites wraps. */
interface Muxer {
  out?: Writable
  _readIncoming?: () => void
}

/**
 * amqplib queues each channel's frames and writes them to the socket from its multiplexer, one
 * `socket.write` per publish (method, header and body in one buffer): with Nagle off (noDelay,
 * below) a batch of 1,000 publishes was 1,000 syscalls and TCP segments. Corking the socket for
 * each pass of the multiplexer sends what the pass writes in one `writev` (up to the socket's
 * high-water mark, 16 KiB, at a time: about 15 for 1,000 jobs), and uncorking at the end of the
 * pass sends a lone publish or ack at once, as before. Left as is when amqplib's internals are not
 * the ones this was written for (amqplib 2.3, lib/mux.js).
 */
function coalesceWrites(model: ChannelModel): void {
  const mux = (model as unknown as { connection?: { muxer?: Muxer } }).connection?.muxer
  const out = mux?.out
  const pass = mux?._readIncoming
  if (!mux || !out || typeof pass !== 'function' || typeof out.cork !== 'function') return
  mux._readIncoming = function (this: Muxer) {
    out.cork()
    try {
      pass.call(mux)
    } finally {
      out.uncork()
    }
  }
}

let connections = 0

export class AmqpConnection {
  /** Grows by one with every successful open; 0 before the first. */
  generation = 0
  private model: ChannelModel | null = null
  private lib: Amqplib | null = null
  private opening: Promise<void> | null = null
  private closed = false
  private lastError: unknown = null
  private readonly listeners = new Set<(up: boolean) => void>()
  private readonly channels = new Map<string, Promise<Channel>>()
  /**
   * The name RabbitMQ shows for this connection (`connection_name`: management UI,
   * `rabbitmqctl list_connections client_properties`): process and connection, so an operator
   * can tell which worker holds which deliveries, and close one connection.
   */
  readonly name = `celeriac@${hostname()}:${process.pid}#${++connections}`

  constructor(readonly target: AmqpTarget) {}

  /** Opens the connection (idempotent); rejects with a BrokerError when RabbitMQ cannot be reached. */
  connect(): Promise<void> {
    if (this.model) return Promise.resolve()
    this.closed = false
    this.opening ??= this.open().finally(() => (this.opening = null))
    return this.opening
  }

  private async open(): Promise<void> {
    this.lib ??= await amqplib()
    let model: ChannelModel
    try {
      // noDelay: amqplib leaves Nagle's algorithm on, which holds a lone publish or ack back
      // until the previous segment is acknowledged (tens of ms with delayed ACKs): every
      // enqueue→start would wait for it.
      model = await this.lib.connect(this.target.url, {
        clientProperties: { connection_name: this.name },
        noDelay: true,
      })
    } catch (cause) {
      throw this.error('cannot connect', cause)
    }
    if (this.closed) {
      await model.close().catch(() => {})
      throw this.error('closed while connecting')
    }
    coalesceWrites(model)
    model.on('error', (err: unknown) => (this.lastError = err))
    model.on('close', () => this.lost(model))
    this.model = model
    this.generation++
    for (const l of this.listeners) l(true)
  }

  private lost(model: ChannelModel): void {
    if (this.model !== model) return
    this.model = null
    this.channels.clear()
    if (this.closed) return
    for (const l of this.listeners) l(false)
    void this.reconnect()
  }

  private async reconnect(): Promise<void> {
    let delay = 100
    while (!this.closed && !this.model) {
      await new Promise((r) => setTimeout(r, delay))
      if (this.closed || this.model) return
      await this.connect().catch((err: unknown) => (this.lastError = err))
      delay = Math.min(delay * 2, MAX_BACKOFF_MS)
    }
  }

  /** Called with false when the connection is lost and true when it is open again. */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  get up(): boolean {
    return this.model !== null
  }

  /** The live connection, or a BrokerError saying RabbitMQ is away. */
  live(): ChannelModel {
    if (this.model) return this.model
    throw this.error(
      this.closed ? 'the connection is closed' : 'the connection is lost; reconnecting',
      this.lastError,
    )
  }

  /**
   * A shared channel by role ('confirm' for publishing, 'admin' for declares, purges and
   * counts, 'lease' for lease queues, whose errors must not close the admin channel), opened on
   * first use and again after it or the connection closed.
   */
  channel(role: 'admin' | 'lease'): Promise<Channel>
  channel(role: 'confirm'): Promise<ConfirmChannel>
  channel(role: 'admin' | 'confirm' | 'lease'): Promise<Channel> {
    const model = this.live()
    let ch = this.channels.get(role)
    if (!ch) {
      ch = (role === 'confirm' ? model.createConfirmChannel() : model.createChannel()).then((c) => {
        // A channel error (a refused declare, a nacked publish) closes only this channel.
        c.on('error', (err: unknown) => (this.lastError = err))
        c.on('close', () => {
          if (this.channels.get(role) === ch) this.channels.delete(role)
        })
        return c
      })
      ch.catch(() => this.channels.delete(role))
      this.channels.set(role, ch)
    }
    return ch
  }

  /** A channel of its own (consumers, dead-letter browsing), closed by its user. */
  async ownChannel(): Promise<Channel> {
    const c = await this.live().createChannel()
    c.on('error', (err: unknown) => (this.lastError = err))
    return c
  }

  error(what: string, cause?: unknown): BrokerError {
    const detail = cause instanceof Error ? `: ${cause.message}` : ''
    return new BrokerError(`RabbitMQ at ${redactUrl(this.target.url)}: ${what}${detail}`, { cause })
  }

  async close(): Promise<void> {
    this.closed = true
    const model = this.model
    this.model = null
    this.channels.clear()
    await this.opening?.catch(() => {})
    await model?.close().catch(() => {})
  }
}
