/**
 * The Redis backend on a real Cluster: three private primaries started in a temp dir (free ports),
 * the shared broker conformance suite on `redis+cluster://`, result batches that span slots, a
 * wait over queues of different slots, and 500 tasks over 3 queues through an in-process worker.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { Redis } from 'ioredis'
import { createApp } from '../../src/index.js'
import { Worker } from '../../src/worker/index.js'
import { backend, RedisBroker, RedisResultStore } from '../../src/brokers/redis/index.js'
import { keySlot } from '../../src/brokers/redis/cluster.js'
import { coordinationKey, resultKey } from '../../src/brokers/redis/keys.js'
import type { ResultRecord } from '../../src/contracts/result-store.js'
import { brokerConformance } from '../conformance/suite.js'
import { tempDir } from './helpers.js'
import { RedisCluster } from './redis-helpers.js'

const cluster = new RedisCluster(tempDir('celeriac-cluster-'))
after(() => cluster.stop())
await cluster.start()
const url = (tag = 'c') => cluster.url(`celeriac-${tag}-${randomUUID().slice(0, 8)}`)
const shared = url()

brokerConformance({
  name: 'redis cluster',
  open: async () => {
    const b = new RedisBroker(shared)
    await b.connect()
    return b
  },
})

function record(id: string, state: ResultRecord['state'], result: string | null = null): ResultRecord {
  const now = Date.now()
  return {
    id,
    state,
    task: 't',
    result,
    error: null,
    retries: 0,
    worker: 'w',
    startedAt: now,
    doneAt: state === 'SUCCESS' ? now : null,
    updatedAt: now,
    expiresAt: now + 60_000,
    fence: null,
  }
}

describe('redis cluster specifics', () => {
  const closers: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const c of closers.reverse()) await c()
  })
  const node = async () => {
    const r = new Redis({ port: cluster.ports[0]!, host: '127.0.0.1' })
    closers.push(() => r.quit())
    return r
  }

  it('computes the same slots as the server (CLUSTER KEYSLOT)', async () => {
    const r = await node()
    for (const k of ['a', 'celeriac:result:x', '{celeriac:q}:ready:0', 'x{}y', '{}{a}', 'é{ü}', 'x{a']) {
      assert.equal(keySlot(k), await r.call('CLUSTER', 'KEYSLOT', k), k)
    }
  })

  it('stores, reads, waits for and forgets results spread over every node', async () => {
    const store = new RedisResultStore(url('r'))
    await store.connect()
    closers.push(() => store.close())
    const ids = Array.from({ length: 300 }, () => randomUUID())
    const nodes = new Set(ids.map((id) => Math.floor(keySlot(resultKey(store.prefix, id)) / 5462)))
    assert.equal(nodes.size, 3, 'the ids span the three nodes')

    await store.set(ids.map((id) => record(id, 'STARTED')))
    await store.set(ids.map((id, i) => record(id, i % 2 ? 'SUCCESS' : 'STARTED', `v${i}`)))
    // A ready record is never replaced by one that is not ready.
    await store.set(ids.map((id) => record(id, 'STARTED')))
    const got = await store.get([...ids, 'missing'])
    assert.equal(got.length, 301)
    assert.equal(got[300], null)
    got.slice(0, 300).forEach((r, i) => {
      assert.equal(r?.id, ids[i])
      assert.equal(r?.state, i % 2 ? 'SUCCESS' : 'STARTED')
    })

    // Waits on many channels (pub/sub across nodes) wake when another client stores the results.
    const other = new RedisResultStore(cluster.url(store.prefix))
    await other.connect()
    closers.push(() => other.close())
    const waiting = ids.filter((_, i) => i % 2 === 0).slice(0, 40)
    const t0 = Date.now()
    const waits = waiting.map((id) => store.wait(id, { timeoutMs: 10_000 }))
    setTimeout(() => void other.set(waiting.map((id) => record(id, 'SUCCESS', 'late'))), 200)
    const woken = await Promise.all(waits)
    assert.ok(Date.now() - t0 < 5_000, 'woken by the publish, not the timeout')
    woken.forEach((r, i) => {
      assert.equal(r?.id, waiting[i])
      assert.equal(r?.state, 'SUCCESS')
      assert.equal(r?.result, 'late')
    })

    assert.equal(await store.forget([...ids, 'missing']), 300)
    assert.deepEqual(new Set(await store.get(ids)), new Set([null]))
  })

  it('publishes to and reserves from queues in different slots; a wait over them wakes at once', async () => {
    const b = new RedisBroker(url('b'))
    await b.connect()
    closers.push(() => b.close())
    const queues = ['q-a', 'q-b', 'q-c', 'q-d', 'q-e', 'q-f']
    const slots = new Set(queues.map((q) => Math.floor(keySlot(`{${b.prefix}:${q}}`) / 5462)))
    assert.ok(slots.size >= 2, 'the queues live on at least two nodes')
    await b.publish(queues.map((queue, i) => ({ id: randomUUID(), queue, body: `b${i}`, priority: i % 3 })))
    const got = await b.reserve(queues, 100, { leaseMs: 30_000 })
    assert.equal(got.length, queues.length)
    assert.deepEqual(
      got.map((d) => d.priority),
      [2, 2, 1, 1, 0, 0],
    )
    assert.deepEqual(
      await b.ack(got),
      got.map(() => true),
    )

    const consumer = new RedisBroker(cluster.url(b.prefix))
    await consumer.connect()
    closers.push(() => consumer.close())
    for (const target of [queues[0]!, queues[queues.length - 1]!]) {
      const t0 = Date.now()
      const waiting = consumer.reserve(queues, 10, { leaseMs: 30_000, waitMs: 10_000 })
      await new Promise((r) => setTimeout(r, 150))
      await b.publish([{ id: randomUUID(), queue: target, body: 'x', priority: 0 }])
      const woke = await waiting
      assert.equal(woke.length, 1)
      assert.equal(woke[0]!.queue, target)
      assert.ok(Date.now() - t0 < 2_000, `woken by the publish to ${target}`)
    }

    // An abort ends a wait over several slots at once.
    const ac = new AbortController()
    const t0 = Date.now()
    const waiting = consumer.reserve(queues, 10, { leaseMs: 30_000, waitMs: 10_000, signal: ac.signal })
    setTimeout(() => ac.abort(), 100)
    assert.deepEqual(await waiting, [])
    assert.ok(Date.now() - t0 < 1_000, 'the abort ended the wait')
  })

  it('coordinates through one backend: locks, joins, buckets, the event log and broadcast', async () => {
    const prefix = `celeriac-co-${randomUUID().slice(0, 8)}`
    const be = backend(cluster.url(prefix))
    await be.connect()
    closers.push(() => be.close())
    const co = be.coordination!
    const names = ['n-a', 'n-b', 'n-c', 'n-d', 'n-e', 'n-f']
    const nodes = new Set(names.map((n) => Math.floor(keySlot(coordinationKey(prefix, 'lock', n)) / 5462)))
    assert.ok(nodes.size >= 2, 'the names spread over nodes')
    const locks = await Promise.all(names.map((n) => co.acquire(n, 'me', 10_000)))
    assert.ok(locks.every((l) => l?.fence === 1))
    assert.deepEqual(
      await Promise.all(names.map((n) => co.acquire(n, 'other', 10_000))),
      names.map(() => null),
    )
    assert.deepEqual(await co.join('j', ['a', 'b'], 60_000), { size: 2, added: 2 })
    await co.forgetJoins(names)
    assert.equal(await co.take('t', 1, { rate: 1, perMs: 1000 }), 0)
    const ids = await co.append('log', ['x', 'y'], 10)
    assert.deepEqual(
      (await co.read('log', ids[0]!, 10)).map((e) => e.data),
      ['y'],
    )
    const seen: string[] = []
    await co.subscribe('c', (m) => seen.push(m))
    await co.broadcast('c', 'hello')
    for (let i = 0; i < 50 && !seen.length; i++) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(seen, ['hello'])
  })

  it('500 tasks over 3 queues through an in-process worker all complete', async () => {
    const u = url('w')
    const app = createApp({ broker: u })
    closers.push(() => app.close())
    const double = app.task('double', (_ctx, n: number) => n * 2)
    const worker = new Worker(app, {
      concurrency: 16,
      queues: ['alpha', 'beta', 'gamma'],
      logger: pino({ level: 'silent' }),
      shutdownGrace: 2_000,
    })
    await worker.start()
    closers.push(() => worker.stop())
    const queues = ['alpha', 'beta', 'gamma']
    const results = await double.sendMany(
      Array.from({ length: 500 }, (_, i) => ({ args: [i] as [number], options: { queue: queues[i % 3]! } })),
    )
    const values = await Promise.all(results.map((r) => r.get({ timeout: 30_000 })))
    assert.deepEqual(
      values,
      Array.from({ length: 500 }, (_, i) => i * 2),
    )
  })
})
