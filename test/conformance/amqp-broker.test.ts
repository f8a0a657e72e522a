/**
 * The RabbitMQ broker through its push consumer (`consume`): credit, settling, fencing across a
 * lost connection, priorities, delays, dead letters, pause, purge and stats. The broker suite
 * (suite.ts) runs on RabbitMQ too (amqp.test.ts); these are the tests of what only RabbitMQ does.
 */
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { after, describe, it } from 'node:test'
import type { Backend } from '../../src/contracts/backend.js'
import type { Broker, Delivery } from '../../src/contracts/broker.js'
import type { Consumption } from '../../src/contracts/consumer.js'
import { backend } from '../../src/brokers/amqp/index.js'
import { amqpUrls } from './amqp-env.js'

const urls = amqpUrls()
const open: Backend[] = []
after(async () => {
  await Promise.allSettled(open.map((b) => b.close()))
  await urls.cleanup(['q', 'low', 'high'])
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

async function broker(url = urls.url()): Promise<{ b: Broker; url: string; backend: Backend }> {
  const be = backend(url)
  open.push(be)
  await be.connect()
  return { b: be.broker!, url, backend: be }
}

function consumer(b: Broker, credit: number, queues = ['q']): { got: Delivery[]; c: Consumption } {
  const got: Delivery[] = []
  const c = b.consume({ queues, leaseMs: 30_000, credit, onDeliveries: (d) => got.push(...d) })
  return { got, c }
}

const job = (id: string, extra: Partial<{ priority: number; availableAt: number; queue: string }> = {}) => ({
  id,
  queue: extra.queue ?? 'q',
  body: `body-${id}`,
  priority: extra.priority ?? 0,
  ...(extra.availableAt ? { availableAt: extra.availableAt } : {}),
})

describe('amqp broker', () => {
  it('never hands over more than the credit granted', async () => {
    const { b } = await broker()
    await b.publish(Array.from({ length: 10 }, (_, i) => job(`j${i}`)))
    const { got, c } = consumer(b, 3)
    await until('3 deliveries', () => got.length === 3)
    await sleep(300)
    assert.equal(got.length, 3)
    assert.deepEqual(await b.ack(got.slice(0, 2)), [true, true])
    c.grant(2)
    await until('5 deliveries', () => got.length === 5)
    await sleep(300)
    assert.equal(got.length, 5)
    assert.deepEqual(
      got.map((d) => d.id),
      ['j0', 'j1', 'j2', 'j3', 'j4'],
    )
    assert.deepEqual(await b.ack(got.slice(0, 1)), [false], 'a settled token is stale')
    await c.stop()
  })

  it('delivers higher priorities first and keeps the body, id and priority', async () => {
    const { b } = await broker()
    await b.publish([job('low', { priority: 1 }), job('high', { priority: 8 })])
    const { got, c } = consumer(b, 1)
    await until('one delivery', () => got.length === 1)
    assert.equal(got[0]!.id, 'high')
    assert.equal(got[0]!.body, 'body-high')
    assert.equal(got[0]!.priority, 8)
    assert.equal(got[0]!.deliveries, 1)
    await b.ack(got)
    c.grant(1)
    await until('two deliveries', () => got.length === 2)
    assert.equal(got[1]!.id, 'low')
    await c.stop()
  })

  it('holds a delayed job in RabbitMQ until its time, counted as delayed', async () => {
    const { b } = await broker()
    const t0 = Date.now()
    // Longer than declaring the queue's 36 delay levels on a busy node (the first delayed job of
    // a queue waits for them; a delay counts from the publish call).
    await b.publish([job('later', { availableAt: t0 + 2500 })])
    const [s] = await b.stats(['q'])
    assert.equal(s!.delayed, 1)
    assert.equal(s!.waiting, 0)
    const { got, c } = consumer(b, 5)
    await until('the delayed job', () => got.length === 1, 8000)
    const took = Date.now() - t0
    assert.ok(took >= 2490, `delivered after ${took} ms`)
    assert.ok(took < 4500, `delivered after ${took} ms`)
    await c.stop()
  })

  it('retry publishes the new body after its delay with a higher fence; release gives it back uncounted', async () => {
    const { b } = await broker()
    await b.publish([job('r')])
    const { got, c } = consumer(b, 5)
    await until('first delivery', () => got.length === 1)
    const first = got[0]!
    assert.deepEqual(await b.retry([{ id: 'r', token: first.token, body: 'second body', delayMs: 200 }]), [
      true,
    ])
    assert.deepEqual(await b.retry([{ id: 'r', token: first.token, body: 'again', delayMs: 0 }]), [false])
    c.grant(1)
    await until('the retried job', () => got.length === 2)
    const second = got[1]!
    assert.equal(second.body, 'second body')
    assert.equal(second.deliveries, 2)
    assert.ok(second.fence > first.fence)
    assert.deepEqual(await b.release([second]), [true])
    c.grant(1)
    await until('the released job', () => got.length === 3)
    const third = got[2]!
    assert.equal(third.body, 'second body')
    assert.ok(third.fence > second.fence)
    assert.equal(third.deliveries, second.deliveries, 'a release is not counted')
    assert.deepEqual(await b.extend([third], 1000), [true])
    assert.deepEqual(await b.extend([second], 1000), [false])
    await b.ack([third])
    await c.stop()
  })

  it('redelivers what a consumer held when its connection closes, with a higher fence and count', async () => {
    const url = urls.url()
    const a = await broker(url)
    await a.b.publish([job('held')])
    const first = consumer(a.b, 1)
    await until('delivery to a', () => first.got.length === 1)
    const other = await broker(url)
    const second = consumer(other.b, 1)
    await sleep(200)
    assert.equal(second.got.length, 0, 'nothing to take while a holds the job')
    await a.backend.close()
    await until('redelivery to b', () => second.got.length === 1)
    const d = second.got[0]!
    assert.equal(d.id, 'held')
    assert.equal(d.deliveries, 2)
    assert.ok(d.fence > first.got[0]!.fence)
    assert.deepEqual(await other.b.ack([d]), [true])
    await second.c.stop()
  })

  it('dead-letters with a reason, lists, replays with a higher fence, deletes and prunes', async () => {
    const { b } = await broker()
    await b.publish([job('d1'), job('d2'), job('d3')])
    const { got, c } = consumer(b, 3)
    await until('three deliveries', () => got.length === 3)
    const before = Date.now()
    assert.deepEqual(
      await b.deadLetter(got.map((d) => ({ id: d.id, token: d.token, reason: `failed ${d.id}` }))),
      [true, true, true],
    )
    const dead = await b.listDead({ queue: 'q' })
    assert.deepEqual(dead.map((d) => d.id).sort(), ['d1', 'd2', 'd3'])
    const d1 = dead.find((d) => d.id === 'd1')!
    assert.equal(d1.reason, 'failed d1')
    assert.equal(d1.body, 'body-d1')
    assert.equal(d1.deliveries, 1)
    assert.ok(d1.failedAt >= before - 1000)
    assert.equal((await b.stats(['q']))[0]!.dead, 3)
    assert.equal(await b.replayDead(['d1']), 1)
    c.grant(3)
    await until('the replayed job', () => got.length === 4)
    assert.equal(got[3]!.id, 'd1')
    assert.ok(got[3]!.fence > got[0]!.fence)
    await b.ack([got[3]!])
    assert.equal(await b.deleteDead(['d2']), 1)
    assert.deepEqual(
      (await b.listDead({ queue: 'q' })).map((d) => d.id),
      ['d3'],
    )
    assert.equal(await b.pruneDead({ keep: 0 }), 1)
    assert.equal((await b.listDead({ queue: 'q' })).length, 0)
    await c.stop()
  })

  it('pause stops deliveries until resume; purge deletes waiting and delayed jobs', async () => {
    const { b } = await broker()
    await b.pause('q')
    assert.equal((await b.stats(['q']))[0]!.paused, true)
    const { got, c } = consumer(b, 5)
    await b.publish([job('p1'), job('p2'), job('p3', { availableAt: Date.now() + 60_000 })])
    await sleep(1500)
    assert.equal(got.length, 0)
    const [s] = await b.stats(['q'])
    assert.equal(s!.waiting, 2)
    assert.equal(s!.delayed, 1)
    await b.resume('q')
    await until('deliveries after resume', () => got.length === 2)
    await b.ack(got)
    await c.stop()
    await b.publish([job('x1'), job('x2', { availableAt: Date.now() + 60_000 })])
    assert.equal(await b.purge('q'), 3, 'x1, x2 and the still delayed p3')
    const [t] = await b.stats(['q'])
    assert.equal(t!.waiting + t!.delayed, 0)
  })

  it('consumes several queues within one shared credit', async () => {
    const { b } = await broker()
    await b.publish([job('l1', { queue: 'low' }), job('l2', { queue: 'low' }), job('h1', { queue: 'high' })])
    const { got, c } = consumer(b, 2, ['high', 'low'])
    await until('two deliveries', () => got.length === 2)
    await sleep(300)
    assert.equal(got.length, 2)
    await b.ack(got)
    c.grant(2)
    await until('all three', () => got.length === 3)
    assert.deepEqual(got.map((d) => d.id).sort(), ['h1', 'l1', 'l2'])
    await c.stop()
  })

  it('writes a batch of publishes to the socket in a few writes, not one per job', async () => {
    const { b } = await broker()
    await b.publish([job('warm')])
    const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>
    const { _write: write, _writev: writev } = proto
    let writes = 0
    proto._write = function (...a: unknown[]) {
      writes++
      return write.apply(this, a)
    }
    proto._writev = function (...a: unknown[]) {
      writes++
      return writev.apply(this, a)
    }
    try {
      await b.publish(Array.from({ length: 1000 }, (_, i) => job(`w${i}`)))
    } finally {
      proto._write = write
      proto._writev = writev
    }
    assert.ok(writes < 100, `${writes} socket writes for 1,000 publishes`)
    assert.equal(await b.purge('q'), 1001)
  })

  it('keeps the order, bodies and marks of a batch mixing generated ids (encoded by celeriac) with chosen ids', async () => {
    const { b } = await broker()
    const ids = ['g1', 'c1', 'g2', 'g3', 'c2', 'g4']
    await b.publish(
      ids.map((id) => ({
        ...job(id),
        body: `body-${id}-é€😀`,
        ...(id.startsWith('g') ? { generatedId: true } : {}),
      })),
    )
    const { got, c } = consumer(b, 10)
    await until('six deliveries', () => got.length === 6)
    assert.deepEqual(
      got.map((d) => [d.id, d.body, d.chosenId === true, d.deliveries, d.priority]),
      ids.map((id) => [id, `body-${id}-é€😀`, id.startsWith('c'), 1, 0]),
    )
    await b.ack(got)
    await c.stop()
  })
})
