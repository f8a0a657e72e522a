/**
 * The broker conformance suite. Every pull broker runs it unchanged:
 *   brokerConformance({ name: 'sqlite', open: () => ... })
 * `open()` returns a new, connected client of the same backend (for networked brokers, a new
 * connection), so tests with several consumers exercise real concurrency. Each test works on its
 * own queue names, so a backend need not be emptied between tests. The parts live in broker/.
 */
import { after, describe } from 'node:test'
import type { PullBroker } from '../../src/contracts/broker.js'
import { adminTests } from './broker/admin.js'
import { consumerCreditTests } from './broker/consumer-credit.js'
import { deadLetterTests } from './broker/dead-letters.js'
import { deferTests } from './broker/defer.js'
import { leaseTests } from './broker/leases-settle.js'
import { orderTests } from './broker/order.js'
import { producerConsumerTests } from './broker/producer-consumer.js'

export interface ConformanceTarget {
  readonly name: string
  open(): Promise<PullBroker>
  /** Tests the engine is known to fail, by name, with the reason: they run as `todo` until fixed. */
  readonly known?: Readonly<Record<string, string>>
}

export function brokerConformance(target: ConformanceTarget): void {
  describe(`broker conformance: ${target.name}`, () => {
    const opened: PullBroker[] = []
    const open = Object.assign(
      async () => {
        const b = await target.open()
        opened.push(b)
        return b
      },
      { known: target.known },
    )
    after(async () => {
      await Promise.all(opened.map((b) => b.close()))
    })
    describe('publish and reserve', () => producerConsumerTests(open))
    describe('leases and settling', () => leaseTests(open))
    describe('queue administration', () => adminTests(open))
    describe('dead letters', () => deadLetterTests(open))
    describe('defer', () => deferTests(open))
    describe('credit-based consumer', () => consumerCreditTests(open))
    describe('place in line and refs', () => orderTests(open))
  })
}
