/**
 * The broker conformance suite. Every broker runs it unchanged, pull engines and push engines
 * alike (deliveries are taken through the credit-based `consume`, see broker/support.ts):
 *   brokerConformance({ name: 'sqlite', open: () => ... })
 * `open()` returns a new, connected client of the same backend (for networked brokers, a new
 * connection), so tests with several consumers exercise real concurrency. Each test works on its
 * own queue names, so a backend need not be emptied between tests. A test that does not apply to
 * an engine is skipped by its capability flags (timed or connection leases, pull or push
 * consumer, idempotent publish, order across queues), never by the engine's name. The parts live
 * in broker/.
 */
import { after, describe } from 'node:test'
import type { Broker } from '../../src/contracts/broker.js'
import { adminTests } from './broker/admin.js'
import { consumerCreditTests } from './broker/consumer-credit.js'
import { deadLetterTests } from './broker/dead-letters.js'
import { deferTests } from './broker/defer.js'
import { leaseTests } from './broker/leases-settle.js'
import { listJobsTests } from './broker/list-jobs.js'
import { orderTests } from './broker/order.js'
import { producerConsumerTests } from './broker/producer-consumer.js'
import { pullTests } from './broker/pull.js'

export interface ConformanceTarget {
  readonly name: string
  open(): Promise<Broker>
  /** Tests the engine is known to fail, by name, with the reason: they run as `todo` until fixed. */
  readonly known?: Readonly<Record<string, string>>
  /** Runs once all tests ended and every client is closed (deletes what the tests created). */
  readonly cleanup?: () => Promise<void>
}

export function brokerConformance(target: ConformanceTarget): void {
  describe(`broker conformance: ${target.name}`, async () => {
    const opened: Broker[] = []
    const connect = async () => {
      const b = await target.open()
      opened.push(b)
      return b
    }
    // The flags decide which tests apply; they are the engine's, the same on every client.
    const { capabilities } = await connect()
    const open = Object.assign(connect, { known: target.known, capabilities })
    after(async () => {
      await Promise.all(opened.map((b) => b.close()))
      await target.cleanup?.()
    })
    describe('publish and consume', () => producerConsumerTests(open))
    describe('reserve (pull engines)', () => pullTests(open))
    describe('leases and settling', () => leaseTests(open))
    describe('queue administration', () => adminTests(open))
    describe('dead letters', () => deadLetterTests(open))
    describe('listing jobs by state', () => listJobsTests(open))
    describe('defer', () => deferTests(open))
    describe('credit-based consumer', () => consumerCreditTests(open))
    describe('place in line and refs', () => orderTests(open))
  })
}
