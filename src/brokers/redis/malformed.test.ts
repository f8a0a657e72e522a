/**
 * Redis broker: entries that are not in the broker's framing, written straight into the keys (a
 * buggy producer, a hand edit). The scripts check each entry they take before writing anything:
 * a bad one goes to the dead-letter store with a reason and its raw bytes, its neighbours are
 * delivered, and the queue keeps flowing.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { Delivery } from '../../contracts/broker.js'
import { RedisBroker } from './broker.js'
import { QueueKeys } from './keys.js'
import { entry } from './wire.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
const q = () => `rm-${randomUUID().slice(0, 8)}`
const lease = { leaseMs: 30_000 }
const ids = (xs: readonly Delivery[]) => xs.map((d) => d.id)

/** Malformed waiting entries, each with a word its reason must hold. */
const BAD_ENTRIES: [raw: string | Buffer, reason: RegExp][] = [
  ['', /empty entry/],
  ['not framed at all', /prefix/],
  ['x:36:0190c7b2-0000-7000-8000-000000000000{}', /prefix/],
  ['0:abc:id{}', /framing/],
  ['0:40:short', /truncated/],
  ['0:', /framing/],
  ['99999999999999999999:5:hello{}', /out of range/],
  ['0:0:{}', /empty id/],
  ['0:123456:id', /over 9999 bytes/],
  [Buffer.concat([Buffer.from('0:4:'), Buffer.from([0xe2, 0x82, 0x28, 0xff]), Buffer.from('{}')]), /UTF-8/],
  [Buffer.concat([Buffer.from('0:2:'), Buffer.from([0xe2, 0x82]), Buffer.from('{}')]), /UTF-8/],
]

describe('redis broker: malformed entries', () => {
  const raw = new Redis(base)
  const b = new RedisBroker(url)
  after(async () => {
    await b.close()
    const keys = await raw.keys(`{${prefix}*`)
    if (keys.length) await raw.del(...keys)
    await raw.quit()
  })

  const good = (n: number) =>
    Array.from({ length: n }, () => {
      const id = randomUUID()
      return { id, raw: entry(0, id, `body-${id}`) }
    })
  const drain = async (queue: string | string[], max = 100) => {
    const got: Delivery[] = []
    for (let i = 0; i < 10; i++) {
      const batch = await b.reserve(Array.isArray(queue) ? queue : [queue], max, lease)
      if (!batch.length) break
      got.push(...batch)
    }
    return got
  }
  /** The dead entries of a queue, raw body bytes read straight from Redis. */
  const deadOf = async (queue: string) => {
    const k = new QueueKeys(prefix, queue)
    const list = await b.listDead({ queue, limit: 1000 })
    const raws = await Promise.all(list.map(async (d) => deadBody((await raw.hgetBuffer(k.dead, d.id))!)))
    return list.map((d, i) => ({ ...d, rawBody: raws[i]! }))
  }

  it('dead-letters each malformed waiting entry with its reason and delivers every valid one beside it', async () => {
    await b.connect()
    const queue = q()
    const k = new QueueKeys(prefix, queue)
    const valid = good(12)
    // Bad entries between good ones, in one list and in a higher-priority list taken first.
    const mixed: (string | Buffer)[] = []
    BAD_ENTRIES.forEach(([r], i) => mixed.push(valid[i]!.raw, r))
    await raw.rpush(k.ready[0]!, ...mixed, valid[11]!.raw)
    await raw.rpush(k.ready[5]!, 'junk at priority 5')
    const got = await drain(queue, 7)
    assert.deepEqual(got.map((d) => d.id).sort(), valid.map((v) => v.id).sort())
    for (const d of got) assert.equal(d.body, `body-${d.id}`)
    assert.deepEqual(await b.ack(got), new Array(got.length).fill(true))

    const dead = await deadOf(queue)
    assert.equal(dead.length, BAD_ENTRIES.length + 1)
    for (const [r, reason] of [...BAD_ENTRIES, ['junk at priority 5', /prefix/] as const]) {
      const bytes = Buffer.from(r)
      const d = dead.find((x) => x.rawBody.equals(bytes))
      assert.ok(d, `dead entry holding ${JSON.stringify(bytes.toString())}`)
      assert.match(d.reason, reason)
      assert.match(d.reason, /^malformed entry: /)
      assert.match(d.id, /^malformed-\d+$/)
    }
    assert.equal(dead.find((d) => d.body === 'junk at priority 5')!.priority, 5)
    const [stats] = await b.stats([queue])
    assert.deepEqual([stats!.waiting, stats!.active, stats!.dead], [0, 0, BAD_ENTRIES.length + 1])
  })

  it('dead-letters a second copy of an id that is leased, or repeated in the batch', async () => {
    const queue = q()
    const k = new QueueKeys(prefix, queue)
    const [a, c] = good(2)
    await raw.rpush(k.ready[0]!, a!.raw)
    const [first] = await b.reserve([queue], 1, lease)
    assert.equal(first!.id, a!.id)
    await raw.rpush(k.ready[0]!, entry(0, a!.id, 'copy'), c!.raw, entry(0, c!.id, 'copy of c'))
    const got = await drain(queue)
    assert.deepEqual(
      got.map((d) => [d.id, d.body]),
      [[c!.id, c!.raw.slice(c!.raw.indexOf('body-'))]],
    )
    const dead = await b.listDead({ queue })
    assert.deepEqual(dead.map((d) => d.reason.match(/already leased|same batch/)?.[0]).sort(), [
      'already leased',
      'same batch',
    ])
    // The original's lease is untouched: it settles normally.
    assert.deepEqual(await b.ack([first!, ...got]), [true, true])
  })

  it('dead-letters a due delayed member with a bad priority prefix; the queue keeps delivering', async () => {
    const queue = q()
    const other = q()
    const k = new QueueKeys(prefix, queue)
    const valid = good(3)
    const now = Date.now() - 1000
    const members = [
      'x:' + valid[0]!.raw.replace(valid[0]!.id, randomUUID()),
      '-1:' + entry(0, randomUUID(), '{}'),
      '12:' + entry(0, randomUUID(), '{}'),
      '',
      '3:garbage after a good prefix',
      `2:${valid[0]!.raw}`,
      `0:${valid[1]!.raw}`,
      `9:${valid[2]!.raw}`,
    ]
    await raw.zadd(k.delayed, ...members.flatMap((m, i) => [now + i, m]))
    // Several queues: the peek script promotes (and buries) before the reserve script takes.
    const got = await drain([other, queue])
    assert.deepEqual(got.map((d) => d.id).sort(), valid.map((v) => v.id).sort())
    const dead = await b.listDead({ queue })
    assert.equal(dead.length, 5)
    assert.equal(dead.filter((d) => /priority prefix/.test(d.reason)).length, 4)
    assert.ok(dead.some((d) => d.body === '3:garbage after a good prefix'.slice(2) && d.priority === 3))
    assert.equal(await raw.zcard(k.delayed), 0)
    // Nothing left behind blocks later jobs.
    await b.publish([{ id: 'after', queue, body: 'x', priority: 0 }])
    assert.deepEqual(
      (await b.reserve([queue], 5, lease)).map((d) => d.id),
      ['after'],
    )
  })

  it('dead-letters a returned entry with a score no script writes, or not in the framing', async () => {
    const queue = q()
    const k = new QueueKeys(prefix, queue)
    const [v, w] = good(2)
    // Scores are (9 - priority) * 1e14 + place: priority 3 at place 5, and out-of-range ones.
    await raw.zadd(k.returned, 6e14 + 5, v!.raw, -1, 'below zero', 1.5, 'a fraction', 1e15 + 1, 'past rank 9')
    await raw.zadd(k.returned, 9e14 + 7, 'junk at priority 0')
    const got = await drain(queue, 10)
    assert.deepEqual(
      got.map((d) => [d.id, d.priority]),
      [[v!.id, 3]],
    )
    const dead = await deadOf(queue)
    assert.deepEqual(dead.map((d) => d.rawBody.toString()).sort(), [
      'a fraction',
      'below zero',
      'junk at priority 0',
      'past rank 9',
    ])
    assert.equal(dead.filter((d) => /^malformed returned entry: its score/.test(d.reason)).length, 3)
    assert.equal(await raw.exists(k.returned), 0)
    // Across queues the peek script counts one past rank 9, so that a reserve comes to bury it.
    await raw.zadd(k.returned, 2e15, 'far past rank 9', 8e14 + 1, w!.raw)
    const other = q()
    assert.deepEqual(ids(await b.reserve([other, queue], 1, lease)), [w!.id])
    assert.deepEqual(await b.reserve([other, queue], 1, lease), [])
    assert.equal(await raw.exists(k.returned), 0)
    assert.equal((await b.listDead({ queue }))[0]!.body, 'far past rank 9')
    assert.deepEqual(await b.ack(got), [true])
  })

  it('dead-letters an expired lease whose active value is not in its framing', async () => {
    const queue = q()
    const k = new QueueKeys(prefix, queue)
    await b.publish([{ id: 'j1', queue, body: 'x', priority: 0 }])
    const [d] = await b.reserve([queue], 1, { leaseMs: 1 })
    await raw.hset(k.active, d!.id, 'corrupt')
    await raw.zadd(k.leases, 0, 'no-colon-member')
    await new Promise((r) => setTimeout(r, 5))
    assert.deepEqual(await b.reserve([queue], 5, lease), [])
    const [dead] = await b.listDead({ queue })
    assert.match(dead!.reason, /malformed leased entry of "j1"/)
    assert.equal(dead!.body, 'corrupt')
    assert.equal(await raw.zcard(k.leases), 0)
    // Its id left the live set with it: the id can be published again.
    await b.publish([{ id: 'j1', queue, body: 'again', priority: 0 }])
    assert.equal((await b.reserve([queue], 1, lease))[0]?.body, 'again')
  })
})

/** The body bytes of a dead-hash value "<failedAt>:<priority>:<deliveries>:<bytes of reason>:<reason><body>". */
function deadBody(v: Buffer): Buffer {
  let at = 0
  for (let i = 0; i < 3; i++) at = v.indexOf(':', at) + 1
  const colon = v.indexOf(':', at)
  return v.subarray(colon + 1 + Number(v.subarray(at, colon).toString()))
}
