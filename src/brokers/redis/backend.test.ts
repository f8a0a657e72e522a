/** One URL's Redis backend: its parts share one set of connections, opened and closed once. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { isPullBroker } from '../../contracts/broker.js'
import { backend, RedisBroker, RedisResultStore } from './index.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Open connections per name (`celeriac:<role>`), from CLIENT LIST. */
async function connections(raw: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const line of String(await raw.client('LIST')).split('\n')) {
    const name = /\bname=(\S*)/.exec(line)?.[1]
    if (name?.startsWith('celeriac:')) out.set(name, (out.get(name) ?? 0) + 1)
  }
  return out
}

const diff = (a: Map<string, number>, b: Map<string, number>) =>
  Object.fromEntries(
    [...new Set([...a.keys(), ...b.keys()])]
      .map((k) => [k, (b.get(k) ?? 0) - (a.get(k) ?? 0)] as const)
      .filter(([, n]) => n !== 0),
  )

describe('redis backend', () => {
  const raw = new Redis(base)
  after(async () => {
    const keys = [...(await raw.keys(`{${prefix}*`)), ...(await raw.keys(`${prefix}:*`))]
    if (keys.length) await raw.del(...keys)
    await raw.quit()
  })

  it('gives its broker and result store one command connection, one for waits, one subscriber', async () => {
    const before = await connections(raw)
    const be = backend(url)
    await be.connect()
    await be.connect()
    const queue = `rb-${randomUUID().slice(0, 8)}`
    const id = randomUUID()
    await be.broker!.publish([{ id, queue, body: 'x', priority: 0 }])
    const broker = be.broker!
    assert.ok(isPullBroker(broker))
    const reserving = broker.reserve([`${queue}-empty`], 1, { leaseMs: 1000, waitMs: 10_000 })
    const waiting = be.results!.wait(randomUUID(), {})
    await sleep(150)
    assert.deepEqual(diff(before, await connections(raw)), {
      'celeriac:backend': 1,
      'celeriac:backend-wait': 1,
      'celeriac:backend-sub': 1,
    })
    const t0 = Date.now()
    await be.close()
    await be.close()
    assert.deepEqual(await reserving, [], 'close ends a blocked reserve')
    assert.equal(await waiting, null, 'close ends a wait')
    assert.ok(Date.now() - t0 < 1000)
    await sleep(100)
    assert.deepEqual(diff(before, await connections(raw)), {}, 'every connection closed')
    await assert.rejects(be.broker!.stats([queue]), /not connected/)
  })

  it('a part closed on its own leaves the shared connection to the others', async () => {
    const be = backend(url)
    await be.connect()
    await be.results!.close()
    await assert.rejects(be.results!.get(['x']), /not connected/)
    assert.equal((await be.broker!.stats(['nothing']))[0]!.waiting, 0)
    await be.close()
  })

  it('parts made from a URL alone own their connections', async () => {
    const before = await connections(raw)
    const b = new RedisBroker(url)
    const r = new RedisResultStore(url)
    await Promise.all([b.connect(), r.connect()])
    assert.deepEqual(diff(before, await connections(raw)), { 'celeriac:broker': 1, 'celeriac:results': 1 })
    await Promise.all([b.close(), r.close()])
    await sleep(100)
    assert.deepEqual(diff(before, await connections(raw)), {})
  })
})
