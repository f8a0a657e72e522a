/** Records: small named values in a namespace, with expiry, set-if-absent and fenced writes. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { name, sleep, type OpenClient } from './support.js'

export function recordTests(open: OpenClient): void {
  it('writes, reads and lists records across clients, replacing on a second write', async () => {
    const [a, b] = [await open(), await open()]
    const space = name('space')
    assert.equal(
      await a.put(space, [
        { key: 'w2', value: 'two' },
        { key: 'w1', value: 'one', ttlMs: 60_000 },
      ]),
      true,
    )
    assert.deepEqual(await b.get(space, ['w1', 'missing', 'w2']), ['one', null, 'two'])
    await b.put(space, [{ key: 'w2', value: 'TWO' }])
    const listed = await a.list(space)
    assert.deepEqual(
      listed.map((r) => [r.key, r.value]),
      [
        ['w1', 'one'],
        ['w2', 'TWO'],
      ],
      'ordered by key',
    )
    assert.equal(listed[1]!.expiresAt, null, 'no ttl: kept until removed')
    const at = listed[0]!.expiresAt
    assert.ok(at !== null && at > Date.now() + 50_000 && at <= Date.now() + 61_000, `expiry ${at}`)
    assert.deepEqual(await a.list(name('space')), [], 'an unknown space is empty')
    assert.deepEqual(await a.get(name('space'), ['x']), [null])
    assert.equal((await a.list(space, 1)).length, 1, 'a limit holds')
  })

  it('keeps spaces apart, and a later write in one call wins over an earlier one', async () => {
    const a = await open()
    const [s1, s2] = [name('space'), name('space')]
    await a.put(s1, [
      { key: 'k', value: 'first' },
      { key: 'k', value: 'last' },
    ])
    await a.put(s2, [{ key: 'k', value: 'other' }])
    assert.deepEqual(await a.get(s1, ['k']), ['last'])
    assert.deepEqual(await a.get(s2, ['k']), ['other'])
  })

  it('lets a record lapse after its ttl; a write without ttl makes it permanent again', async () => {
    const a = await open()
    const space = name('space')
    await a.put(space, [
      { key: 'short', value: 'x', ttlMs: 150 },
      { key: 'kept', value: 'y', ttlMs: 150 },
    ])
    await a.put(space, [{ key: 'kept', value: 'y2' }])
    await sleep(300)
    assert.deepEqual(await a.get(space, ['short', 'kept']), [null, 'y2'])
    assert.deepEqual(
      (await a.list(space)).map((r) => r.key),
      ['kept'],
    )
    assert.equal(await a.remove(space, ['short']), 0, 'a lapsed record is not there to remove')
  })

  it('putIfAbsent writes once among racing clients and tells the others the value', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => open()))
    const space = name('space')
    const replies = await Promise.all(
      clients.map((c, i) => c.putIfAbsent(space, { key: 'unique', value: `job-${i}`, ttlMs: 60_000 })),
    )
    const winners = replies.filter((r) => r === null)
    assert.equal(winners.length, 1, `one write: ${JSON.stringify(replies)}`)
    const [stored] = await clients[0]!.get(space, ['unique'])
    for (const r of replies) if (r !== null) assert.equal(r, stored, 'the losers see the winner')
  })

  it('putIfAbsent takes a lapsed key', async () => {
    const a = await open()
    const space = name('space')
    assert.equal(await a.putIfAbsent(space, { key: 'k', value: 'old', ttlMs: 100 }), null)
    assert.equal(await a.putIfAbsent(space, { key: 'k', value: 'new', ttlMs: 100 }), 'old')
    await sleep(250)
    assert.equal(await a.putIfAbsent(space, { key: 'k', value: 'new' }), null)
    assert.deepEqual(await a.get(space, ['k']), ['new'])
  })

  it('removes records, only those with a given value when asked', async () => {
    const [a, b] = [await open(), await open()]
    const space = name('space')
    await a.put(space, [
      { key: 'a', value: 'job-1' },
      { key: 'b', value: 'job-2' },
      { key: 'c', value: 'job-3' },
    ])
    assert.equal(await b.remove(space, ['a', 'b'], { ifValue: 'job-1' }), 1, 'only a holds job-1')
    assert.deepEqual(await a.get(space, ['a', 'b']), [null, 'job-2'])
    assert.equal(await b.remove(space, ['b', 'c', 'nope']), 2)
    assert.deepEqual(await a.list(space), [])
  })

  it('a write fenced by a lock lands only while that owner holds it at that fence', async () => {
    const [a, b] = [await open(), await open()]
    const space = name('space')
    // The lock named after the space: on Redis Cluster that keeps both in one slot.
    const old = await a.acquire(space, 'leader-a', 150)
    assert.ok(old)
    assert.equal(await a.put(space, [{ key: 'tick', value: '1' }], { ifLock: old }), true)
    await sleep(300)
    assert.equal(await a.put(space, [{ key: 'tick', value: 'stale' }], { ifLock: old }), false, 'lapsed')
    const next = await b.acquire(space, 'leader-b', 5000)
    assert.ok(next)
    assert.equal(
      await a.put(space, [{ key: 'tick', value: 'stale' }], { ifLock: old }),
      false,
      'changed hands',
    )
    assert.equal(await b.put(space, [{ key: 'tick', value: '2' }], { ifLock: next }), true)
    assert.deepEqual(await a.get(space, ['tick']), ['2'], 'the stale leader wrote nothing')
    await b.release(next)
    assert.equal(await b.put(space, [{ key: 'tick', value: '3' }], { ifLock: next }), false, 'released')
  })

  it('refuses a ttl that is not a positive number of ms, naming the record', async () => {
    const a = await open()
    const space = name('space')
    for (const ttlMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      await assert.rejects(a.put(space, [{ key: 'bad', value: 'x', ttlMs }]), /record "bad".*ttlMs/)
    await assert.rejects(a.putIfAbsent(space, { key: 'bad', value: 'x', ttlMs: 0 }), /record "bad"/)
    assert.deepEqual(await a.list(space), [], 'nothing written')
  })
}
