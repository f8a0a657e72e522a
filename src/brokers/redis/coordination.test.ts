/** RedisCoordination against a real Redis: locks, joins, token buckets, the event log, broadcast. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { RedisCoordination } from './index.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const name = () => randomUUID().slice(0, 8)

describe('redis coordination', () => {
  const co = new RedisCoordination(url)
  const other = new RedisCoordination(url)
  const raw = new Redis(base)
  before(async () => {
    await Promise.all([co.connect(), other.connect()])
  })
  after(async () => {
    await Promise.all([co.close(), other.close()])
    const keys = await raw.keys(`{${prefix}:*`)
    if (keys.length) await raw.del(...keys)
    await raw.quit()
  })

  it('hands a lock to one owner at a time; the fence grows only when it changes hands', async () => {
    const lock = name()
    const a = await co.acquire(lock, 'a', 150)
    assert.ok(a && a.owner === 'a' && a.name === lock)
    assert.equal(await other.acquire(lock, 'b', 150), null, 'held by a')
    const again = await co.acquire(lock, 'a', 150)
    assert.equal(again!.fence, a.fence, 'a renewal by its owner keeps the fence')
    assert.ok(again!.expiresAt >= a.expiresAt)
    assert.equal(await co.renew(a, 150), true)
    await sleep(250)
    const b = await other.acquire(lock, 'b', 10_000)
    assert.equal(b!.fence, a.fence + 1, 'lapsed, then taken by another owner')
    assert.equal(await co.renew(a, 1000), false)
    assert.equal(await co.release(a), false)
    assert.equal(await other.release(b!), true)
    assert.equal(await other.release(b!), false)
    const a2 = await co.acquire(lock, 'a', 1000)
    assert.equal(a2!.fence, b!.fence + 1)
    assert.ok(a2!.expiresAt > Date.now() - 5_000, 'expiry on the server clock, in epoch ms')
    await assert.rejects(co.acquire(lock, 'a', 0), RangeError)
  })

  it('gives a contended lock to exactly one of many owners', async () => {
    const lock = name()
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => co.acquire(lock, `o${i}`, 5000)))
    assert.equal(got.filter(Boolean).length, 1)
  })

  it('joins count distinct members, lapse after their last change, and are forgotten', async () => {
    const [k, lapsing] = [name(), name()]
    assert.deepEqual(await co.join(k, ['a', 'b'], 60_000), { size: 2, added: 2 })
    assert.deepEqual(await other.join(k, ['b', 'c', 'c'], 60_000), { size: 3, added: 1 })
    assert.deepEqual(await co.join(k, [], 60_000), { size: 3, added: 0 })
    assert.deepEqual((await co.members(k)).sort(), ['a', 'b', 'c'])
    await co.join(lapsing, ['x'], 100)
    await sleep(200)
    assert.deepEqual(await co.members(lapsing), [])
    await co.forgetJoins([k, lapsing])
    assert.deepEqual(await co.members(k), [])
  })

  it('takes tokens from a shared bucket, and says how long until they are there', async () => {
    const key = name()
    const spec = { rate: 2, perMs: 1000 }
    assert.equal(await co.take(key, 1, spec), 0)
    assert.equal(await other.take(key, 1, spec), 0)
    const wait = await co.take(key, 1, spec)
    assert.ok(wait > 0 && wait <= 500, `wait ${wait}`)
    await sleep(wait + 20)
    assert.equal(await co.take(key, 1, spec), 0)
    const ttl = await raw.pttl(`{${prefix}:bucket:${key}}`)
    assert.ok(ttl > 0 && ttl <= 1001, `a full bucket is no key: expires when refilled (${ttl})`)
    assert.equal(await co.take(name(), 5, { rate: 1, perMs: 1000, burst: 5 }), 0, 'burst')
    await assert.rejects(co.take(key, 3, spec), RangeError, 'more than the burst would never come')
  })

  it('keeps a bounded event log, read after an id, oldest first', async () => {
    const stream = name()
    const ids = await co.append(stream, ['e0', 'e1', 'e2', 'e3', 'e4'], 3)
    assert.equal(ids.length, 5)
    const all = await other.read(stream, null, 10)
    assert.deepEqual(
      all.map((e) => e.data),
      ['e2', 'e3', 'e4'],
    )
    assert.deepEqual(
      all.map((e) => e.id),
      ids.slice(2),
    )
    assert.deepEqual(
      (await other.read(stream, ids[2]!, 10)).map((e) => e.data),
      ['e3', 'e4'],
    )
    assert.deepEqual(
      (await other.read(stream, ids[0]!, 1)).map((e) => e.data),
      ['e2'],
      'after a dropped id: from the oldest kept',
    )
    assert.deepEqual(await other.read(stream, ids[4]!, 10), [])
    await co.append(stream, ['e5'], 3)
    assert.equal((await co.read(stream, null, 10)).length, 3)
  })

  it('trims a log written before entries were counted: its old entries hold one event each', async () => {
    const stream = name()
    const key = `{${prefix}:events:${stream}}`
    for (const d of ['old0', 'old1', 'old2', 'old3']) await raw.xadd(key, '*', 'd', d)
    await co.append(stream, ['e0'], 3)
    assert.deepEqual(
      (await other.read(stream, null, 10)).map((e) => e.data),
      ['old2', 'old3', 'e0'],
    )
    await co.append(stream, ['e1', 'e2'], 3)
    assert.deepEqual(
      (await other.read(stream, null, 10)).map((e) => e.data),
      ['e0', 'e1', 'e2'],
    )
    assert.equal(await raw.get(`${key}:n`), '3')
  })

  it('appends events with any characters, empty ones and colons included, byte for byte', async () => {
    const stream = name()
    const events = ['é✓ 😀', '', '12:34', '{"a":"b\\n"}', 'x'.repeat(70_000)]
    assert.equal((await co.append(stream, events, 10)).length, events.length)
    assert.deepEqual(
      (await other.read(stream, null, 10)).map((e) => e.data),
      events,
    )
  })

  it('broadcasts to every current subscriber; unsubscribe and close end it', async () => {
    const channel = name()
    const seenA: string[] = []
    const seenB: string[] = []
    const offA = await co.subscribe(channel, (m) => seenA.push(m))
    await other.subscribe(channel, (m) => seenB.push(m))
    await co.broadcast(channel, 'one')
    await sleep(50)
    await offA()
    await other.broadcast(channel, 'two')
    await sleep(50)
    assert.deepEqual(seenA, ['one'])
    assert.deepEqual(seenB, ['one', 'two'])
    assert.equal(co.capabilities.broadcast, 'push')
    const late = new RedisCoordination(url)
    await late.connect()
    const seenLate: string[] = []
    await late.subscribe(channel, (m) => seenLate.push(m))
    await late.close()
    await co.broadcast(channel, 'three')
    await sleep(50)
    assert.deepEqual(seenLate, [])
  })

  it('keeps each key under the prefix, hash-tagged as a whole (the log with its counter)', async () => {
    const n = name()
    await co.acquire(n, 'a', 1000)
    await co.join(n, ['m'], 1000)
    await co.take(n, 1, { rate: 1, perMs: 1000 })
    await co.append(n, ['e'], 10)
    const keys = (await raw.keys(`*${n}*`)).sort()
    assert.deepEqual(keys, [
      ...['bucket', 'events'].map((k) => `{${prefix}:${k}:${n}}`),
      `{${prefix}:events:${n}}:c`,
      `{${prefix}:events:${n}}:n`,
      ...['join', 'lock'].map((k) => `{${prefix}:${k}:${n}}`),
    ])
  })
})
