/**
 * Delays without a server plugin: a binary cascade of TTL queues (the scheme NServiceBus uses),
 * all of it inside RabbitMQ, so a delayed job survives worker and RabbitMQ restarts.
 *
 * A delay of d ms is written in binary over LEVELS bits. Level k has, per celeriac queue, a
 * durable queue whose `x-message-ttl` is 2^k ms and which dead-letters into level k-1's
 * exchange (level 0's into the ready exchange). Each level's headers exchange routes a message by
 * its bit header `celeriac-d<k>` (not `x-…`: a headers exchange ignores binding keys starting with `x-`): '1' to the queue's level-k queue (it waits 2^k ms there),
 * '0' straight on to level k-1. The ready exchange routes by `celeriac-queue` into the work
 * queue. A message is published to the exchange of its highest set bit, so it spends exactly d
 * ms in level queues (plus a few ms per hop), visiting one queue per set bit. Every queue of a
 * level has one TTL, so it expires in publish order: no message waits behind a later one.
 */
import { ConfigError } from '../../core/errors.js'

/** 2^36 ms is about 2.2 years: the longest delay accepted. */
export const LEVELS = 36
export const READY_EXCHANGE = 'celeriac.delay.ready'
export const MAX_DELAY_MS = 2 ** LEVELS - 1

export function delayExchange(k: number): string {
  return `celeriac.delay.${k}`
}

const bit = (k: number) => `celeriac-d${k}`

/** Arguments of a level-k queue dead-lettering into `next`. */
export function levelArgs(k: number, next: string): Record<string, unknown> {
  return { 'x-message-ttl': 2 ** k, 'x-dead-letter-exchange': next }
}

/** Binding of a queue's level-k queue to exchange k. */
export function levelBinding(k: number, queue: string): Record<string, unknown> {
  return { 'x-match': 'all', [bit(k)]: '1', 'celeriac-queue': queue }
}

/** Binding of exchange k to the next one down, for messages whose bit k is 0. */
export function zeroBinding(k: number): Record<string, unknown> {
  return { 'x-match': 'all', [bit(k)]: '0' }
}

/** Where to publish a message delayed by `ms` (> 0) and the bit headers it carries. */
export function delayRoute(ms: number): { level: number; headers: Record<string, string> } {
  const d = Math.round(ms)
  if (d > MAX_DELAY_MS)
    throw new ConfigError(
      `a delay of ${d} ms is over the RabbitMQ broker's limit of ${MAX_DELAY_MS} ms (about 2.2 years)`,
    )
  let level = 0
  for (let k = LEVELS - 1; k >= 0; k--)
    if (Math.floor(d / 2 ** k) % 2 === 1) {
      level = k
      break
    }
  const headers: Record<string, string> = {}
  for (let k = 0; k <= level; k++) headers[bit(k)] = Math.floor(d / 2 ** k) % 2 === 1 ? '1' : '0'
  return { level, headers }
}
