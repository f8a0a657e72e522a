/**
 * Settling deliveries, fenced by their session's channel (sessions.ts): ack is `basic.ack`;
 * retry publishes the new body (delayed, counters raised), defer the same body (delayed, the
 * delivery not counted) and dead-letter publishes a copy to
 * `<queue>.dead`, each batch confirmed before the originals are acknowledged, so a crash in
 * between leaves the job twice (run again) rather than lost. Release is `basic.nack(requeue)`.
 */
import type { DeadLetterItem, DeferItem, LeaseRef, RetryItem } from '../../contracts/broker.js'
import type { ThroughputCounter } from '../../core/throughput.js'
import { countersOf, type Outgoing } from './message.js'
import type { Held, Session, Sessions } from './sessions.js'

export interface SettleDeps {
  readonly sessions: Sessions
  readonly throughput: ThroughputCounter
  /** Publishes on the confirm channel and waits for the confirms (one wait for the batch). */
  publish(jobs: readonly Outgoing[], dead?: readonly DeadCopy[]): Promise<void>
}

/** A dead-letter copy of a held message. */
export interface DeadCopy {
  readonly held: Held
  readonly reason: string
  readonly deliveries: number
}

type Found = { session: Session; held: Held; tag: number } | undefined

function finish(found: Found[], deps: SettleDeps, how: 'ack' | 'nack', count: boolean): boolean[] {
  const touched = new Set<Session>()
  const out = found.map((f) => {
    if (!f || !f.session.take(f.tag)) return false
    if (how === 'ack') f.session.channel.ack(f.held.msg)
    else f.session.channel.nack(f.held.msg, false, true)
    if (count) deps.throughput.add(f.held.queue, 1)
    touched.add(f.session)
    return true
  })
  for (const s of touched) s.closeIfDrained()
  return out
}

function deliveriesOf(held: Held): number {
  const copy = Number(held.msg.properties.headers?.['x-delivery-count'] ?? 0) + 1
  return countersOf(held.msg).deliveries + copy
}

export function ack(deps: SettleDeps, refs: readonly LeaseRef[]): boolean[] {
  return finish(
    refs.map((r) => deps.sessions.find(r.token)),
    deps,
    'ack',
    true,
  )
}

export function release(deps: SettleDeps, refs: readonly LeaseRef[]): boolean[] {
  return finish(
    refs.map((r) => deps.sessions.find(r.token)),
    deps,
    'nack',
    false,
  )
}

export async function retry(deps: SettleDeps, items: readonly RetryItem[]): Promise<boolean[]> {
  const found = items.map((i) => deps.sessions.find(i.token))
  const jobs: Outgoing[] = []
  items.forEach((item, i) => {
    const f = found[i]
    if (!f) return
    const c = countersOf(f.held.msg)
    jobs.push({
      id: item.id,
      queue: f.held.queue,
      body: item.body,
      priority: Number(f.held.msg.properties.priority ?? 0),
      delayMs: item.delayMs,
      epoch: c.epoch + 1,
      deliveries: deliveriesOf(f.held),
    })
  })
  if (jobs.length) await deps.publish(jobs)
  return finish(found, deps, 'ack', false)
}

/**
 * Defer: the same body published again with its delay, the delivery not counted (a held-back job
 * was not run), then the original acknowledged, as for a retry.
 */
export async function defer(deps: SettleDeps, items: readonly DeferItem[]): Promise<boolean[]> {
  const found = items.map((i) => deps.sessions.find(i.token))
  const jobs: Outgoing[] = []
  items.forEach((item, i) => {
    const f = found[i]
    if (!f) return
    const c = countersOf(f.held.msg)
    jobs.push({
      id: item.id,
      queue: f.held.queue,
      body: f.held.msg.content.toString('utf8'),
      priority: Number(f.held.msg.properties.priority ?? 0),
      delayMs: item.delayMs,
      epoch: c.epoch + 1,
      deliveries: Math.max(0, deliveriesOf(f.held) - 1),
    })
  })
  if (jobs.length) await deps.publish(jobs)
  return finish(found, deps, 'ack', false)
}

export async function deadLetter(deps: SettleDeps, items: readonly DeadLetterItem[]): Promise<boolean[]> {
  const found = items.map((i) => deps.sessions.find(i.token))
  const dead: DeadCopy[] = []
  items.forEach((item, i) => {
    const f = found[i]
    if (f) dead.push({ held: f.held, reason: item.reason, deliveries: deliveriesOf(f.held) })
  })
  if (dead.length) await deps.publish([], dead)
  return finish(found, deps, 'ack', true)
}
