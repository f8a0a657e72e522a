/**
 * The consumer part: how a worker receives deliveries. It is credit-based, as RabbitMQ's
 * `basic.qos` and AMQP 1.0 link credit are: the worker grants credit for the deliveries it has
 * room for, the engine never hands over more than the credit granted, and a settled or released
 * delivery gives its room back by a new grant. A push engine maps credit onto its own prefetch
 * window, so it needs no second buffer; pull engines build the same thing on `reserve`
 * (see pull-consumer.ts).
 */
import type { Delivery } from './broker.js'

export interface ConsumeOptions {
  readonly queues: readonly string[]
  /** Lease of each delivery (timed-lease engines). */
  readonly leaseMs: number
  /** Credit granted at the start. */
  readonly credit: number
  /** Deliveries, at most the credit outstanding. Called in order; never after `stop` resolved. */
  readonly onDeliveries: (deliveries: Delivery[]) => void
  /** Receiving failed (the engine is away); the consumer keeps trying with a capped backoff. */
  readonly onError?: (error: unknown) => void
  /** Receiving works again after an error. */
  readonly onRecovered?: () => void
}

/** One running consumption. */
export interface Consumption {
  /** Adds `n` credit: the caller has room for `n` more deliveries. */
  grant(n: number): void
  /**
   * Stops receiving. Resolves when no more deliveries will be handed over; deliveries the engine
   * sent after stop was called are given back to the queue, not handed over.
   */
  stop(): Promise<void>
}

export interface Consumer {
  consume(options: ConsumeOptions): Consumption
}
