/**
 * What the parts of the broker suite share: the client opener, `take` (deliveries through the
 * credit-based consumer, so push and pull engines run the same tests), `hold` (a lease that
 * lapses the way the engine's leases do) and a few helpers.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { it } from 'node:test'
import type {
  Broker,
  BrokerCapabilities,
  Delivery,
  OutgoingJob,
  QueueStats,
} from '../../../src/contracts/broker.js'

/**
 * A new connected client of the broker under test; closed by the suite at the end. `known`
 * names tests the engine is known to fail, with the reason (see `test`); `capabilities` are the
 * engine's flags, which decide the tests that apply.
 */
export type OpenBroker = (() => Promise<Broker>) & {
  readonly known?: Readonly<Record<string, string>>
  readonly capabilities: BrokerCapabilities
}

/**
 * A test that runs as `todo` (reported, not failing the run) while the engine is known to fail
 * it, and is skipped, with the reason, when `applies` says the engine's capabilities exclude it.
 */
export function test(
  open: OpenBroker,
  name: string,
  fn: () => Promise<void>,
  applies?: { readonly when: (c: BrokerCapabilities) => boolean; readonly why: string },
): void {
  const known = open.known?.[name]
  if (applies && !applies.when(open.capabilities)) it(name, { skip: applies.why }, fn)
  else it(name, known ? { todo: known } : {}, fn)
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A fresh queue name, so tests never share jobs. */
export function q(): string {
  return `cq-${randomUUID().slice(0, 8)}`
}

export function jobs(queue: string, n: number, extra: Partial<OutgoingJob> = {}): OutgoingJob[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    queue,
    body: `body-${i}`,
    priority: 0,
    ...extra,
  }))
}

/**
 * Takes up to `max` deliveries from `queues` through `consume` with `max` credit: what is ready,
 * or what comes within `waitMs`. A push engine never says "nothing is ready", so the consumption
 * ends once `max` arrived, or when nothing more came for a quiet spell (longer on push engines,
 * whose consumer needs a channel and a subscription first). The deliveries stay leased.
 */
export async function take(
  b: Broker,
  queues: readonly string[],
  max: number,
  o: { readonly leaseMs?: number; readonly waitMs?: number } = {},
): Promise<Delivery[]> {
  const push = b.capabilities.consumer === 'push'
  const quiet = push ? 250 : 60
  const got: Delivery[] = []
  let last = Date.now()
  const consumption = b.consume({
    queues,
    leaseMs: o.leaseMs ?? 30_000,
    credit: max,
    onDeliveries: (ds) => {
      got.push(...ds)
      last = Date.now()
    },
  })
  const start = Date.now()
  // Long enough for a networked engine's first answer with several clients at work.
  const firstWait = Math.max(o.waitMs ?? 0, push ? 500 : 300)
  try {
    for (;;) {
      await sleep(5)
      if (got.length >= max) break
      if (!got.length && Date.now() - start >= firstWait) break
      if (got.length && Date.now() - last >= quiet) break
    }
  } finally {
    await consumption.stop()
  }
  return got
}

/** Takes until nothing is left. */
export async function drain(b: Broker, queues: string[], leaseMs = 30_000): Promise<Delivery[]> {
  const out: Delivery[] = []
  for (;;) {
    const got = await take(b, queues, 100, { leaseMs })
    out.push(...got)
    if (got.length < 100) return out
  }
}

/** Deliveries held, and how to make their leases lapse. */
export interface Holding {
  readonly deliveries: Delivery[]
  /**
   * Timed leases: waits until they expired. Connection leases: closes the client that holds
   * them (a worker that died or lost RabbitMQ). Either way the job is delivered again and these
   * tokens are stale.
   */
  lapse(): Promise<void>
}

/**
 * Takes `n` jobs of `queue` with leases that lapse on `lapse()` (timed: after leaseMs, long enough
 * for a take in between to see nothing).
 */
export async function hold(
  open: OpenBroker,
  b: Broker,
  queue: string,
  n: number,
  leaseMs = 1000,
): Promise<Holding> {
  if (b.capabilities.leases === 'timed') {
    const deliveries = await take(b, [queue], n, { leaseMs })
    const until = Date.now() + leaseMs
    return { deliveries, lapse: async () => void (await sleep(until - Date.now() + 100)) }
  }
  const holder = await open()
  const deliveries = await take(holder, [queue], n)
  return { deliveries, lapse: () => holder.close() }
}

/** The job counts of a stats row, for exact comparison. */
export function counts(
  s: QueueStats | undefined,
): Pick<QueueStats, 'queue' | 'waiting' | 'delayed' | 'active' | 'dead'> {
  assert.ok(s, 'a stats row for the queue')
  return { queue: s.queue, waiting: s.waiting, delayed: s.delayed, active: s.active, dead: s.dead }
}

/** Waits until `check` holds, polling, for at most `ms`; returns whether it did. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() >= deadline) return false
    await sleep(10)
  }
  return true
}

/**
 * The stats row of `queue` once it shows exactly one delayed job, read a few times over `ms`. A
 * push engine's delays pass through its broker's own queues (RabbitMQ's TTL cascade), and a job
 * moving from one to the next is in none of them for a moment.
 */
export async function oneDelayed(b: Broker, queue: string, ms = 500): Promise<QueueStats> {
  const deadline = Date.now() + ms
  for (;;) {
    const [s] = await b.stats([queue])
    assert.ok(s, 'a stats row for the queue')
    if (s.delayed === 1 || Date.now() >= deadline) return s
    await sleep(20)
  }
}
