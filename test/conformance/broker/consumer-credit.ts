/**
 * The credit-based consumer (`broker.consume`): never more deliveries outstanding than the credit
 * granted; `grant` resumes; `stop` hands nothing over afterwards and gives back what came late.
 */
import assert from 'node:assert/strict'
import type { Delivery } from '../../../src/contracts/broker.js'
import { drain, eventually, jobs, q, sleep, test, type OpenBroker } from './support.js'

export function consumerCreditTests(open: OpenBroker): void {
  test(open, 'never hands over more than the credit granted; grant resumes', async () => {
    const [producer, b] = [await open(), await open()]
    const queue = q()
    await producer.publish(jobs(queue, 10))
    const got: Delivery[] = []
    let granted = 3
    let overdrawn = false
    const consumption = b.consume({
      queues: [queue],
      leaseMs: 30_000,
      credit: 3,
      onDeliveries: (ds) => {
        got.push(...ds)
        if (got.length > granted) overdrawn = true
      },
    })
    try {
      assert.ok(await eventually(() => got.length === 3, 3000), 'the first three arrive')
      await sleep(300)
      assert.equal(got.length, 3, 'nothing beyond the credit')
      await b.ack(got.slice(0, 3))
      granted += 2
      consumption.grant(2)
      assert.ok(await eventually(() => got.length === 5, 3000), 'a grant resumes')
      await sleep(300)
      assert.equal(got.length, 5)
      granted += 10
      consumption.grant(10)
      assert.ok(await eventually(() => got.length === 10, 3000), 'the rest arrive')
    } finally {
      await consumption.stop()
    }
    assert.equal(overdrawn, false, 'at no time more outstanding than granted')
    assert.equal(new Set(got.map((d) => d.id)).size, 10, 'each job once')
    await b.ack(got.slice(3))
  })

  test(open, 'receives what is published later while idle', async () => {
    const [producer, b] = [await open(), await open()]
    const queue = q()
    const got: Delivery[] = []
    const consumption = b.consume({
      queues: [queue],
      leaseMs: 30_000,
      credit: 5,
      onDeliveries: (ds) => got.push(...ds),
    })
    try {
      await sleep(200)
      await producer.publish(jobs(queue, 2))
      assert.ok(await eventually(() => got.length === 2, 3000))
    } finally {
      await consumption.stop()
    }
    await b.ack(got)
  })

  test(
    open,
    'stop resolves, hands nothing over afterwards, and gives back what arrived after stop',
    async () => {
      const [producer, b, other] = [await open(), await open(), await open()]
      const queue = q()
      let afterStop = 0
      let stopping = false
      const consumption = b.consume({
        queues: [queue],
        leaseMs: 30_000,
        credit: 5,
        onDeliveries: (ds) => {
          if (stopping) afterStop += ds.length
        },
      })
      await sleep(200) // the consumer is parked in a waiting reserve
      stopping = true
      const stopped = consumption.stop()
      // Published as the stop begins: a reserve in flight may take these, and must give them back.
      await producer.publish(jobs(queue, 3))
      const t0 = Date.now()
      await stopped
      assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms`)
      await sleep(300)
      assert.equal(afterStop, 0, 'nothing handed over once stop was called')
      const back = await drain(other, [queue])
      assert.equal(back.length, 3, 'all three are ready again')
      assert.ok(
        back.every((d) => d.deliveries === 1),
        'a delivery given back is not counted',
      )
      await other.ack(back)
    },
  )
}
