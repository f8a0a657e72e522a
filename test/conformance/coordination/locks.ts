/** Fenced locks with a TTL: one owner at a time, a higher fence for every new owner. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { name, sleep, type OpenClient } from './support.js'

export function lockTests(open: OpenClient): void {
  it('is held by one owner at a time, across clients', async () => {
    const [a, b] = [await open(), await open()]
    const lock = name('lock')
    const t0 = Date.now()
    const held = await a.acquire(lock, 'owner-a', 5000)
    assert.ok(held, 'a free lock is taken')
    assert.equal(held.name, lock)
    assert.equal(held.owner, 'owner-a')
    assert.ok(Number.isSafeInteger(held.fence), `fence ${held.fence}`)
    assert.ok(
      held.expiresAt >= t0 + 5000 - 1000 && held.expiresAt <= Date.now() + 5000 + 1000,
      'expires ttl from now (engine clock, same host)',
    )
    assert.equal(await b.acquire(lock, 'owner-b', 5000), null, 'another owner is refused')
    assert.equal(await a.acquire(lock, 'owner-b', 5000), null, 'whichever client asks')
  })

  it('goes to exactly one of several clients racing for it', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => open()))
    const lock = name('lock')
    const got = await Promise.all(clients.map((c, i) => c.acquire(lock, `owner-${i}`, 5000)))
    assert.equal(got.filter((l) => l !== null).length, 1)
  })

  it('is renewed by its owner (acquire again or renew) with the same fence', async () => {
    const [a, b] = [await open(), await open()]
    const lock = name('lock')
    const first = await a.acquire(lock, 'owner-a', 300)
    assert.ok(first)
    await sleep(150)
    const again = await b.acquire(lock, 'owner-a', 300)
    assert.ok(again, 'the same owner renews it, from any client')
    assert.equal(again.fence, first.fence, 'a renewal keeps the fence')
    assert.ok(again.expiresAt > first.expiresAt)
    await sleep(150)
    assert.equal(await a.renew(first, 400), true)
    await sleep(250)
    // 550 ms after the first take: alive only through the renewals.
    assert.equal(await b.acquire(lock, 'owner-b', 1000), null, 'still held after renewals')
  })

  it('lapses after its ttl and goes to another owner with a higher fence; the old one is stale', async () => {
    const [a, b] = [await open(), await open()]
    const lock = name('lock')
    const old = await a.acquire(lock, 'owner-a', 150)
    assert.ok(old)
    await sleep(300)
    const next = await b.acquire(lock, 'owner-b', 5000)
    assert.ok(next, 'a lapsed lock is free')
    assert.equal(next.owner, 'owner-b')
    assert.ok(next.fence > old.fence, `fence ${next.fence} > ${old.fence}`)
    assert.equal(await a.renew(old, 5000), false, 'stale renew')
    assert.equal(await a.release(old), false, 'stale release')
    assert.equal(await a.acquire(lock, 'owner-a', 5000), null, 'the new owner still holds it')
    assert.equal(await b.renew(next, 5000), true)
  })

  it('a lapsed lock cannot be renewed even before anyone takes it', async () => {
    const a = await open()
    const lock = name('lock')
    const held = await a.acquire(lock, 'owner-a', 100)
    assert.ok(held)
    await sleep(250)
    assert.equal(await a.renew(held, 5000), false)
  })

  it('release frees it; a second release, or one by another owner, is false', async () => {
    const [a, b] = [await open(), await open()]
    const lock = name('lock')
    const held = await a.acquire(lock, 'owner-a', 60_000)
    assert.ok(held)
    assert.equal(await b.release({ ...held, owner: 'owner-b' }), false, 'not by another owner')
    assert.equal(await b.release({ ...held, fence: held.fence + 1 }), false, 'not with another fence')
    assert.equal(await b.acquire(lock, 'owner-b', 5000), null, 'still held')
    assert.equal(await a.release(held), true)
    assert.equal(await a.release(held), false, 'released already')
    assert.equal(await a.renew(held, 5000), false, 'a released lock cannot be renewed')
    const next = await b.acquire(lock, 'owner-b', 5000)
    assert.ok(next, 'free at once after release')
    assert.ok(next.fence > held.fence, 'changed hands: a higher fence')
  })

  it('keeps separate locks apart', async () => {
    const a = await open()
    const [l1, l2] = [name('lock'), name('lock')]
    assert.ok(await a.acquire(l1, 'owner-a', 5000))
    assert.ok(await a.acquire(l2, 'owner-b', 5000), 'another name is another lock')
  })
}
