/** What the parts of the broker suite share: the client opener and a few helpers. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { it } from 'node:test'
import type { Delivery, OutgoingJob, PullBroker, QueueStats } from '../../../src/contracts/broker.js'

/**
 * A new connected client of the broker under test; closed by the suite at the end. `known`
 * names tests the engine is known to fail, with the reason (see `test`).
 */
export type OpenBroker = (() => Promise<PullBroker>) & { readonly known?: Readonly<Record<string, string>> }

/** A test that runs as `todo` (reported, not failing the run) while the engine is known to fail it. */
export function test(open: OpenBroker, name: string, fn: () => Promise<void>): void {
  const known = open.known?.[name]
  it(name, known ? { todo: known } : {}, fn)
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

/** Reserves until nothing is left. */
export async function drain(b: PullBroker, queues: string[], leaseMs = 30_000): Promise<Delivery[]> {
  const out: Delivery[] = []
  for (;;) {
    const got = await b.reserve(queues, 100, { leaseMs })
    if (!got.length) return out
    out.push(...got)
  }
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
