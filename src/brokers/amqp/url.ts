/**
 * `amqp://user:pass@host:5672/vhost` and `amqps://` (TLS), with celeriac's own options in the
 * query string, removed before the URL reaches amqplib:
 * - `queue-type=classic` (default) or `quorum`: the kind of queue each celeriac queue is
 * - `prefix=name`: prepended (with a dot) to every queue and exchange celeriac declares
 * Other query parameters (`heartbeat`, `frameMax`, …) are amqplib's and passed on.
 */
import { BadUrlError } from '../../core/errors.js'

export type QueueType = 'classic' | 'quorum'

export interface AmqpTarget {
  /** The URL amqplib connects to. */
  readonly url: string
  readonly queueType: QueueType
  /** '' or `name.`, prepended to every name. */
  readonly prefix: string
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
  u.searchParams.delete('queue-type')
  u.searchParams.delete('prefix')
  return { url: u.toString(), queueType, prefix: prefix ? `${prefix}.` : '' }
}
