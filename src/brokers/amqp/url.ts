/**
 * `amqp://user:pass@host:5672/vhost` and `amqps://` (TLS), with celeriac's own options in the
 * query string, removed before the URL reaches amqplib:
 * - `queue-type=classic` (default) or `quorum`: the kind of queue each celeriac queue is
 * - `prefix=name`: prepended (with a dot) to every queue and exchange celeriac declares
 * - `consumer-timeout=30m`: the server's `consumer_timeout` (default 30m, RabbitMQ's own; `0` when
 *   the server has none): deliveries held for half of it are handed over to a lease queue
 *   (leases.ts) before RabbitMQ would close the channel
 * - `max-priority=9` (default; classic queues only): the work queues' `x-max-priority`, 1–9 (a
 *   job's priority above it counts as it), or `0` for plain queues without priorities, which
 *   RabbitMQ serves faster (no priority order then: jobs come in publish order)
 * Other query parameters (`heartbeat`, `frameMax`, …) are amqplib's and passed on.
 */
import { toMs } from '../../core/duration.js'
import { BadUrlError } from '../../core/errors.js'

/** RabbitMQ's default `consumer_timeout` (3.8.17 and later). */
export const DEFAULT_CONSUMER_TIMEOUT_MS = 30 * 60_000

export type QueueType = 'classic' | 'quorum'

export interface AmqpTarget {
  /** The URL amqplib connects to. */
  readonly url: string
  readonly queueType: QueueType
  /** '' or `name.`, prepended to every name. */
  readonly prefix: string
  /** The server's consumer_timeout in ms; 0 when it has none (nothing is handed over). */
  readonly consumerTimeoutMs: number
  /** Classic work queues' `x-max-priority`; 0: declared without priorities. */
  readonly maxPriority: number
}

export function parseAmqpUrl(url: string): AmqpTarget {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new BadUrlError(url, ['amqp', 'amqps'], 'it is not a valid URL')
  }
  const queueType = u.searchParams.get('queue-type') ?? 'classic'
  if (queueType !== 'classic' && queueType !== 'quorum')
    throw new BadUrlError(url, ['amqp', 'amqps'], `queue-type must be classic or quorum, got "${queueType}"`)
  const prefix = u.searchParams.get('prefix') ?? ''
  let consumerTimeoutMs = DEFAULT_CONSUMER_TIMEOUT_MS
  const timeout = u.searchParams.get('consumer-timeout')
  if (timeout !== null)
    try {
      consumerTimeoutMs = toMs(timeout, 'consumer-timeout')
    } catch (err) {
      throw new BadUrlError(url, ['amqp', 'amqps'], (err as Error).message)
    }
  const mp = u.searchParams.get('max-priority') ?? '9'
  const maxPriority = Number(mp)
  if (!/^\d$/.test(mp))
    throw new BadUrlError(url, ['amqp', 'amqps'], `max-priority must be an integer from 0 to 9, got "${mp}"`)
  if (queueType === 'quorum' && u.searchParams.has('max-priority'))
    throw new BadUrlError(
      url,
      ['amqp', 'amqps'],
      'max-priority is for classic queues: quorum queues have no priorities',
    )
  for (const k of ['queue-type', 'prefix', 'consumer-timeout', 'max-priority']) u.searchParams.delete(k)
  return { url: u.toString(), queueType, prefix: prefix ? `${prefix}.` : '', consumerTimeoutMs, maxPriority }
}
