/** Redis-specific broker behaviour beyond the conformance suite (test/conformance/redis.test.ts). */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer, Socket, type Server } from 'node:net'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { OutgoingJob } from '../../contracts/broker.js'
import { BrokerError } from '../../core/errors.js'
import { RedisBroker } from './broker.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const withPrefix = (u: string) => `${u}${u.includes('?') ? '&' : '?'}prefix=${prefix}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const q = () => `rq-${randomUUID().slice(0, 8)}`
const jobs = (queue: string, n: number, extra: Partial<OutgoingJob> = {}): OutgoingJob[] =>
  Array.from({ length: n }, (_, i) => ({ id: randomUUID(), queue, body: `b${i}`, priority: 0, ...extra }))

describe('redis broker', () => {
  const raw = new Redis(base)
  const opened: RedisBroker[] = []
  const open = async (url = withPrefix(base)) => {
    const b = new RedisBroker(url)
    await b.connect()
    opened.push(b)
    return b
  }
  after(async () => {
    await Promise.all(opened.map((b) => b.close()))
    const keys = await raw.keys(`{${prefix}*`)
    if (keys.length) await raw.del(...keys)
    await raw.quit()
  })

  it('keeps generated ids out of the live-id set (they cannot repeat); chosen ids are checked', async () => {
    const b = await open()
    const queue = q()
    const [gen] = jobs(queue, 1, { generatedId: true })
    const [chosen] = jobs(queue, 1)
    const [genDelayed] = jobs(queue, 1, { generatedId: true, availableAt: Date.now() + 60_000 })
    await b.publish([gen!, chosen!, genDelayed!])
    const ids = `{${prefix}:${queue}}:ids`
    assert.deepEqual(await raw.smembers(ids), [chosen!.id])
    await b.publish([{ ...chosen!, body: 'again' }])
    const got = await b.reserve([queue], 10, { leaseMs: 60_000 })
    assert.deepEqual(
      got.map((d) => d.id).sort(),
      [gen!.id, chosen!.id].sort(),
      'the chosen id was not stored twice',
    )
    assert.deepEqual(await b.ack(got), [true, true])
    assert.equal(await raw.scard(ids), 0)
  })

  it('keeps every key of a queue under one hash tag, with the prefix from the URL', async () => {
    const b = await open()
    const queue = q()
    await b.publish([...jobs(queue, 1), ...jobs(queue, 1, { availableAt: Date.now() + 60_000 })])
    await b.reserve([queue], 1, { leaseMs: 60_000 })
    const keys = await raw.keys(`*${queue}*`)
    assert.ok(keys.length >= 4)
    assert.ok(
      keys.every((k) => k.startsWith(`{${prefix}:${queue}}:`)),
      keys.join(' '),
    )
    assert.equal(b.prefix, prefix)
    assert.equal(new RedisBroker('redis://localhost').prefix, 'celeriac')
  })

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT → EVAL)', async () => {
    const b = await open()
    const queue = q()
    await raw.script('FLUSH')
    await b.publish(jobs(queue, 2))
    await raw.script('FLUSH')
    const got = await b.reserve([queue, q()], 2, { leaseMs: 1000 })
    assert.equal(got.length, 2)
    await raw.script('FLUSH')
    assert.deepEqual(await b.ack(got), [true, true])
  })

  it('reserves across queues by priority first, then in the order the queues are named', async () => {
    const b = await open()
    const [q1, q2] = [q(), q()]
    await b.publish([
      { id: randomUUID(), queue: q1, body: 'q1-p1', priority: 1 },
      { id: randomUUID(), queue: q2, body: 'q2-p9', priority: 9 },
      { id: randomUUID(), queue: q2, body: 'q2-p1', priority: 1 },
    ])
    const got = await b.reserve([q1, q2], 2, { leaseMs: 1000 })
    assert.deepEqual(
      got.map((d) => d.body),
      ['q2-p9', 'q1-p1'],
    )
    const [s2] = await b.stats([q2])
    assert.equal(s2!.waiting, 1, 'nothing over max was taken')
  })

  it('publishes to several queues at once, atomically', async () => {
    const b = await open()
    const [q1, q2] = [q(), q()]
    await b.publish([...jobs(q1, 3), ...jobs(q2, 2)])
    const stats = await b.stats([q1, q2])
    assert.deepEqual(stats.map((s) => s.waiting).sort(), [2, 3])
  })

  it('a waiting reserve wakes for a delayed job when it becomes due, without a publish', async () => {
    const b = await open()
    const queue = q()
    await b.publish(jobs(queue, 1, { availableAt: Date.now() + 300 }))
    const t0 = Date.now()
    const got = await b.reserve([queue], 1, { leaseMs: 1000, waitMs: 3000 })
    assert.equal(got.length, 1)
    assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`)
  })

  it('recovers an expired lease for any client, without the first consumer', async () => {
    const a = await open()
    const b = await open()
    const queue = q()
    await a.publish(jobs(queue, 1))
    const [first] = await a.reserve([queue], 1, { leaseMs: 100 })
    await a.close()
    const [again] = await b.reserve([queue], 1, { leaseMs: 1000, waitMs: 2000 })
    assert.equal(again!.id, first!.id)
    assert.equal(again!.deliveries, 2)
  })

  it('aborting a blocked reserve ends it promptly, and the connection is reused', async () => {
    const b = await open()
    const queue = q()
    const ac = new AbortController()
    const t0 = Date.now()
    const pending = b.reserve([queue], 1, { leaseMs: 1000, waitMs: 10_000, signal: ac.signal })
    await sleep(100)
    ac.abort()
    assert.deepEqual(await pending, [])
    assert.ok(Date.now() - t0 < 500)
    const producer = await open()
    const next = b.reserve([queue], 1, { leaseMs: 1000, waitMs: 3000 })
    await sleep(50)
    await producer.publish(jobs(queue, 1))
    assert.equal((await next).length, 1)
  })

  it('close() ends a blocked reserve with an empty batch', async () => {
    const b = new RedisBroker(withPrefix(base))
    await b.connect()
    const t0 = Date.now()
    const pending = b.reserve([q()], 1, { leaseMs: 1000, waitMs: 10_000 })
    await sleep(100)
    await b.close()
    assert.deepEqual(await pending, [])
    assert.ok(Date.now() - t0 < 1000)
  })

  it('pauses and resumes a queue', async () => {
    const b = await open()
    const queue = q()
    await b.pause(queue)
    assert.equal(await b.isPaused(queue), true)
    await b.publish(jobs(queue, 2))
    assert.deepEqual(await b.reserve([queue], 5, { leaseMs: 1000, waitMs: 100 }), [])
    const pending = b.reserve([queue], 5, { leaseMs: 1000, waitMs: 3000 })
    await sleep(50)
    await b.resume(queue)
    assert.equal((await pending).length, 2)
  })

  it('stats without queues lists what was published; dead jobs list across queues newest first', async () => {
    const b = await open()
    const [q1, q2] = [q(), q()]
    await b.publish([...jobs(q1, 1), ...jobs(q2, 1)])
    const [d1] = await b.reserve([q1], 1, { leaseMs: 1000 })
    await b.deadLetter([{ ...d1!, reason: 'first ✗' }])
    await sleep(5)
    const [d2] = await b.reserve([q2], 1, { leaseMs: 1000 })
    await b.deadLetter([{ ...d2!, reason: 'second' }])
    const names = (await b.stats()).map((s) => s.queue)
    assert.ok(names.includes(q1) && names.includes(q2))
    const dead = (await b.listDead()).filter((d) => d.queue === q1 || d.queue === q2)
    assert.deepEqual(
      dead.map((d) => d.reason),
      ['second', 'first ✗'],
    )
    assert.equal(await b.replayDead(), 2)
    assert.equal((await b.reserve([q1, q2], 5, { leaseMs: 1000 })).length, 2)
  })

  it('deletes throughput buckets left behind by an idle gap, and expires the rest', async () => {
    const b = await open()
    const queue = q()
    const key = `{${prefix}:${queue}}:settled`
    const [sec] = await raw.time()
    const now = Number(sec) * 1000
    const bucket = Math.floor(now / 10_000)
    // Buckets of an earlier burst: two fell out of the one-minute window during the gap.
    await raw.hset(key, bucket - 20, 5, bucket - 7, 3, bucket - 3, 2)
    await b.publish(jobs(queue, 1))
    await b.ack(await b.reserve([queue], 1, { leaseMs: 1000 }))
    const fields = (await raw.hkeys(key)).map(Number)
    assert.ok(!fields.includes(bucket - 20) && !fields.includes(bucket - 7), fields.join(' '))
    assert.ok(fields.includes(bucket - 3), 'a bucket still in the window is kept')
    const ttl = await raw.pttl(key)
    assert.ok(ttl > 0 && ttl <= 70_000, `pttl ${ttl}`)
  })

  it('fails fast with a BrokerError naming the URL without its password', async () => {
    const b = new RedisBroker('redis://:hunter2@127.0.0.1:1/0')
    await assert.rejects(b.connect(), (e: unknown) => {
      assert.ok(e instanceof BrokerError)
      assert.match(e.message, /127\.0\.0\.1:1/)
      assert.doesNotMatch(e.message, /hunter2/)
      return true
    })
    await assert.rejects(b.publish(jobs(q(), 1)), BrokerError)
  })

  it('while Redis is away publish and reserve reject at once; it recovers when Redis is back', async () => {
    const proxy = await startProxy(new URL(base))
    const b = await open(withPrefix(`redis://127.0.0.1:${proxy.port}${new URL(base).pathname}`))
    const queue = q()
    await b.publish(jobs(queue, 1))
    await proxy.stop()
    await sleep(50)
    const t0 = Date.now()
    await assert.rejects(b.publish(jobs(queue, 1)), BrokerError)
    await assert.rejects(b.reserve([queue], 1, { leaseMs: 1000, waitMs: 1000 }), BrokerError)
    assert.ok(Date.now() - t0 < 500, 'nothing is buffered')
    await proxy.start()
    for (let i = 0; i < 50; i++) {
      try {
        await b.publish(jobs(queue, 1))
        break
      } catch {
        await sleep(100)
      }
    }
    assert.equal((await b.reserve([queue], 5, { leaseMs: 1000 })).length, 2)
    await proxy.stop()
  })
})

/** A TCP proxy to Redis that can be stopped (dropping every connection) and started again. */
async function startProxy(
  target: URL,
): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void> }> {
  let server: Server | null = null
  const sockets = new Set<Socket>()
  let port = 0
  const start = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = new Socket()
        upstream.connect(Number(target.port || 6379), target.hostname)
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on('close', () => sockets.delete(s))
          s.on('error', () => {})
        }
        client.pipe(upstream).pipe(client)
        client.on('close', () => upstream.destroy())
        upstream.on('close', () => client.destroy())
      })
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port
        resolve()
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      if (server) server.close(() => resolve())
      else resolve()
      server = null
    })
  await start()
  return {
    get port() {
      return port
    },
    stop,
    start,
  }
}
