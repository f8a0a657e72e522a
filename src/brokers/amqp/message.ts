/**
 * What a message carries besides its body, and how a received message becomes a Delivery.
 *
 * Headers set by celeriac:
 * - `celeriac-queue`: the celeriac queue (routes delayed messages home, names dead ones' queue);
 *   absent on jobs published straight to their queue
 * - `celeriac-epoch`: how many times celeriac re-published the job (retry, replay, a recount
 *   of a redelivery): part of the fence, see fence below
 * - `celeriac-deliveries`: deliveries of the job before this copy was published
 * - `celeriac-chosen-id`: 1 when the producer chose the id (it may have been published twice;
 *   the worker claims such runs, see src/dedup); carried by every later copy
 * - `celeriac-copy`: with `celeriac-chosen-id`, a random name given to each publish by a producer
 *   and carried by every later copy of that publish (retry, release, recount, dead letter,
 *   replay): the claim of an id belongs to one copy, so another copy of the id never runs
 * - dead-letter copies: `celeriac-reason`, `celeriac-failed-at`
 */
import type { ConfirmChannel, Message, Options } from 'amqplib'
import type { Delivery } from '../../contracts/broker.js'
import { delayRoute } from './delays.js'
import type { PublishFrames } from './frames.js'
import type { Topology } from './topology.js'

/** Deliveries of one copy counted in the fence's low bits. */
const COPY_BITS = 2 ** 20

export interface Counters {
  readonly epoch: number
  readonly deliveries: number
}

export interface Outgoing extends Counters {
  readonly id: string
  readonly queue: string
  readonly body: string
  readonly priority: number
  /** Delay from now in ms; 0 or less is now. */
  readonly delayMs: number
  /** The producer chose the id (header `celeriac-chosen-id`). */
  readonly chosenId?: boolean
  /** Which publish of a chosen id this is (header `celeriac-copy`). */
  readonly copy?: string
  /** The queue to put it in instead of its work queue (a lease queue, leases.ts); not delayed. */
  readonly target?: string
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0
}

/** Whether a received message's id was chosen by its producer (header `celeriac-chosen-id`). */
export function chosenIdOf(msg: Message): boolean {
  return msg.properties.headers?.['celeriac-chosen-id'] === 1
}

/** What a later copy of a received message carries over: whether its id was chosen, and its copy. */
export function chosenOf(msg: Message): { chosenId: boolean; copy?: string } {
  const copy = msg.properties.headers?.['celeriac-copy']
  return { chosenId: chosenIdOf(msg), ...(typeof copy === 'string' && copy ? { copy } : {}) }
}

export function countersOf(msg: Message): Counters {
  const h = msg.properties.headers ?? {}
  return { epoch: num(h['celeriac-epoch']), deliveries: num(h['celeriac-deliveries']) }
}

/**
 * Puts a job on a confirm channel (no wait): to its work queue, or into the delay cascade. Only
 * headers that say something are sent (counters of 0 and a priority of 0 are the defaults, the
 * queue header only routes delayed jobs): a job's first publish carries none, which makes every
 * frame smaller for amqplib to encode and RabbitMQ to parse (bench/rabbitmq.ts). With `frames`,
 * such a first publish is encoded by celeriac (frames.ts); call `frames.flush()` after the batch.
 */
export function send(
  ch: ConfirmChannel,
  topology: Topology,
  job: Outgoing,
  confirmed?: Confirm,
  frames?: PublishFrames | null,
): void {
  let headers: Record<string, unknown> | undefined
  if (job.epoch) (headers ??= {})['celeriac-epoch'] = job.epoch
  if (job.deliveries) (headers ??= {})['celeriac-deliveries'] = job.deliveries
  if (job.chosenId) {
    ;(headers ??= {})['celeriac-chosen-id'] = 1
    if (job.copy) headers['celeriac-copy'] = job.copy
  }
  if (frames) {
    const queue = job.target ?? topology.work(job.queue)
    if (!headers && job.delayMs < 1 && frames.add(queue, job.id, job.priority, job.body, confirmed)) return
    // What amqplib writes must follow what was added before it.
    frames.flush()
  }
  const options: Options.Publish = { persistent: true, messageId: job.id, contentType: 'text/plain' }
  if (job.priority) options.priority = job.priority
  const content = Buffer.from(job.body, 'utf8')
  if (job.delayMs >= 1) {
    const route = delayRoute(job.delayMs)
    options.headers = { ...headers, 'celeriac-queue': job.queue, ...route.headers }
    ch.publish(topology.exchange(route.level), '', content, options, confirmed)
  } else {
    if (headers) options.headers = headers
    ch.sendToQueue(job.target ?? topology.work(job.queue), content, options, confirmed)
  }
}

/** What amqplib calls when RabbitMQ confirms a publish (null) or refuses it, or the channel closes. */
export type Confirm = (err: unknown) => void

/**
 * One callback for the `n` publishes of a batch and a promise that resolves once RabbitMQ
 * confirmed them all (rejects at the first refusal or a closed channel). amqplib's
 * `waitForConfirms` wraps every unconfirmed callback of the channel in a new promise on each call,
 * so callers publishing concurrently (one `delay()` per request) pay for each other's pending
 * confirms, quadratically: 1,000 sends a second left the p99 enqueue→start at a second or more.
 */
export function confirmations(n: number): { confirmed: Confirm; all: Promise<void> } {
  let confirmed: Confirm = () => {}
  const all = new Promise<void>((resolve, reject) => {
    let left = n
    let failed = false
    confirmed = (err) => {
      if (failed) return
      if (err) {
        failed = true
        reject(err instanceof Error ? err : new Error(String(err)))
      } else if (--left === 0) resolve()
    }
    if (n === 0) resolve()
  })
  return { confirmed, all }
}

/**
 * The Delivery of a message received from `queue` on consumer session `session`. The token is
 * `<session>:<delivery tag>`; only that session's live channel can settle it. On quorum queues
 * RabbitMQ counts redeliveries of a copy (`x-delivery-count`); on classic queues a redelivered
 * copy is recounted before it is handed over (see consumer.ts), so every copy handed over there
 * is on its first delivery.
 */
export function toDelivery(msg: Message, queue: string, session: number): Delivery {
  const c = countersOf(msg)
  const copy = num(msg.properties.headers?.['x-delivery-count']) + 1
  return {
    id: String(msg.properties.messageId ?? ''),
    token: `${session}:${msg.fields.deliveryTag}`,
    fence: c.epoch * COPY_BITS + Math.min(copy, COPY_BITS - 1),
    queue,
    body: msg.content.toString('utf8'),
    priority: num(msg.properties.priority),
    deliveries: c.deliveries + copy,
    ...(chosenIdOf(msg) ? { chosenId: true, ...copyOf(msg) } : {}),
  }
}

function copyOf(msg: Message): { copy?: string } {
  const { copy } = chosenOf(msg)
  return copy ? { copy } : {}
}

/** Splits a token into its session and delivery tag; null when it is not one of ours. */
export function parseToken(token: string): { session: number; tag: number } | null {
  const m = /^(\d+):(\d+)$/.exec(token)
  return m ? { session: Number(m[1]), tag: Number(m[2]) } : null
}
