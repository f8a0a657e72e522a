/**
 * Settling deliveries, fenced by their session's channel (sessions.ts): ack is `basic.ack`;
 * retry publishes the new body (delayed, counters raised), defer the same body (delayed, the
 * delivery not counted) and dead-letter publishes a copy to
 * `<queue>.dead`, each batch confirmed before the originals are acknowledged, so a crash in
 * between leaves the job twice (run again) rather than lost.
 *
 * Release gives the job back uncounted (giveBack): a copy with the same delivery count and a
 * higher epoch is published, confirmed, and the original acknowledged. A `basic.nack(requeue)`
 * would come back flagged `redelivered` (classic) or with `x-delivery-count` raised (quorum),
 * which cannot be told from a crash, so the poison-message limit would count every shutdown.
 */
import type { DeadLetterItem, DeferItem, LeaseRef, RetryItem } from '../../contracts/broker.js'
import type { ThroughputCounter } from '../../core/throughput.js'
import { deliveriesOf, type Lease, type Leases } from './leases.js'
import { chosenOf, countersOf, num, type Outgoing } from './message.js'
import type { Held, Session, Sessions } from './sessions.js'

export interface SettleDeps {
  readonly sessions: Sessions
  /** Deliveries handed over to lease queues (held past half the consumer_timeout). */
  readonly leases: Leases
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

type Found =
  { session: Session; held: Held; tag: number; lease?: undefined } | { lease: Lease; held: Held } | undefined

/**
 * The live deliveries of a batch of refs: on a consumer channel, or handed over to a lease queue;
 * a ref repeated in the batch is stale after its first.
 */
function findAll(deps: SettleDeps, refs: readonly LeaseRef[]): Found[] {
  const seen = new Set<string>()
  return refs.map((r) => {
    if (seen.has(r.token)) return undefined
    seen.add(r.token)
    const f = deps.sessions.find(r)
    if (f) return f
    const lease = deps.leases.find(r)
    return lease && { lease, held: lease.held }
  })
}

/** Acknowledges the found deliveries (ends their leases); waits only when a lease is among them. */
function finish(found: Found[], deps: SettleDeps, count: boolean): boolean[] | Promise<boolean[]> {
  // Taken out first, acknowledged together per session (Session.ack: `multiple` where it can).
  const touched = new Map<Session, Held[]>()
  let ends: Promise<void>[] | null = null
  const out = found.map((f, i) => {
    if (!f) return false
    if (f.lease) {
      ;(ends ??= []).push(
        deps.leases.end(f.lease).then((live) => {
          out[i] = live
          if (live && count) deps.throughput.add(f.held.queue, 1)
        }),
      )
      return false
    }
    if (!f.session.take(f.tag)) return false
    const taken = touched.get(f.session)
    if (taken) taken.push(f.held)
    else touched.set(f.session, [f.held])
    if (count) deps.throughput.add(f.held.queue, 1)
    return true
  })
  for (const [s, taken] of touched) {
    s.ack(taken)
    s.closeIfDrained()
  }
  return ends ? Promise.all(ends as Promise<void>[]).then(() => out) : out
}

/**
 * Deliveries of this copy before this one: on quorum queues RabbitMQ counts them
 * (`x-delivery-count`); on classic queues only a flag says there was at least one.
 */
export function priorOfCopy(held: Held, queueType: 'classic' | 'quorum'): number {
  if (queueType === 'quorum') return num(held.msg.properties.headers?.['x-delivery-count'])
  return held.msg.fields.redelivered ? 1 : 0
}

/**
 * The copy that gives a held message back to its queue without counting this delivery: the
 * deliveries before it (earlier copies and earlier deliveries of this copy), epoch + 1.
 */
export function giveBackCopy(held: Held, queueType: 'classic' | 'quorum'): Outgoing {
  const m = held.msg
  const c = countersOf(m)
  return {
    id: String(m.properties.messageId ?? ''),
    queue: held.queue,
    body: m.content.toString('utf8'),
    priority: num(m.properties.priority),
    delayMs: 0,
    epoch: c.epoch + 1,
    deliveries: c.deliveries + priorOfCopy(held, queueType),
    ...chosenOf(m),
  }
}

export function ack(deps: SettleDeps, refs: readonly LeaseRef[]): boolean[] | Promise<boolean[]> {
  return finish(findAll(deps, refs), deps, true)
}

export async function release(
  deps: SettleDeps,
  refs: readonly LeaseRef[],
  queueType: 'classic' | 'quorum',
): Promise<boolean[]> {
  const found = findAll(deps, refs)
  const copies = found.flatMap((f) => (f ? [giveBackCopy(f.held, queueType)] : []))
  if (copies.length) await deps.publish(copies)
  return finish(found, deps, false)
}

export async function retry(deps: SettleDeps, items: readonly RetryItem[]): Promise<boolean[]> {
  const found = findAll(deps, items)
  const jobs: Outgoing[] = []
  items.forEach((item, i) => {
    const f = found[i]
    if (!f) return
    const c = countersOf(f.held.msg)
    jobs.push({
      id: item.id,
      queue: f.held.queue,
      body: item.body,
      priority: num(f.held.msg.properties.priority),
      delayMs: item.delayMs,
      epoch: c.epoch + 1,
      deliveries: deliveriesOf(f.held),
      ...chosenOf(f.held.msg),
    })
  })
  if (jobs.length) await deps.publish(jobs)
  return finish(found, deps, false)
}

/**
 * Defer: the copy a release publishes (same body, this delivery not counted), with its delay, then
 * the original acknowledged, as for a retry.
 */
export async function defer(
  deps: SettleDeps,
  items: readonly DeferItem[],
  queueType: 'classic' | 'quorum',
): Promise<boolean[]> {
  const found = findAll(deps, items)
  const copies: Outgoing[] = []
  items.forEach((item, i) => {
    const f = found[i]
    if (f) copies.push({ ...giveBackCopy(f.held, queueType), delayMs: item.delayMs })
  })
  if (copies.length) await deps.publish(copies)
  return finish(found, deps, false)
}

export async function deadLetter(deps: SettleDeps, items: readonly DeadLetterItem[]): Promise<boolean[]> {
  const found = findAll(deps, items)
  const dead: DeadCopy[] = []
  items.forEach((item, i) => {
    const f = found[i]
    if (f) dead.push({ held: f.held, reason: item.reason, deliveries: deliveriesOf(f.held) })
  })
  if (dead.length) await deps.publish([], dead)
  return finish(found, deps, true)
}
