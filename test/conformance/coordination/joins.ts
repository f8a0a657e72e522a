/** Joins: idempotent sets counted by their distinct members, lapsing after their last change. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { JoinResult } from '../../../src/contracts/coordination.js'
import { name, sleep, type OpenClient } from './support.js'

export function joinTests(open: OpenClient): void {
  it('counts distinct members; a repeated member changes nothing', async () => {
    const [a, b] = [await open(), await open()]
    const key = name('join')
    assert.deepEqual(await a.join(key, ['m1', 'm2'], 60_000), { size: 2, added: 2 })
    assert.deepEqual(await b.join(key, ['m2', 'm3', 'm3'], 60_000), { size: 3, added: 1 })
    assert.deepEqual(await a.join(key, ['m1'], 60_000), { size: 3, added: 0 })
    assert.deepEqual((await b.members(key)).sort(), ['m1', 'm2', 'm3'])
    assert.deepEqual(await b.members(name('join')), [], 'unknown join')
  })

  it('under concurrent joins from several clients, exactly one call sees the join complete', async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => open()))
    const key = name('join')
    const size = 40
    const all = Array.from({ length: size }, (_, i) => `m${i}`)
    // Every member is joined twice, by different clients (a redelivered chord member).
    const calls: Promise<JoinResult>[] = []
    for (let i = 0; i < size; i++)
      for (const c of [clients[i % 5]!, clients[(i + 2) % 5]!]) calls.push(c.join(key, [all[i]!], 60_000))
    const results = await Promise.all(calls)
    assert.equal(results.filter((r) => r.added > 0 && r.size === size).length, 1)
    assert.equal(
      results.reduce((n, r) => n + r.added, 0),
      size,
      'each member added once',
    )
    assert.ok(results.every((r) => r.size <= size && r.added <= 1))
    assert.deepEqual((await clients[0]!.members(key)).sort(), [...all].sort())
  })

  it('forgets joins; a join forgotten starts again empty', async () => {
    const a = await open()
    const [k1, k2, k3] = [name('join'), name('join'), name('join')]
    await a.join(k1, ['x', 'y'], 60_000)
    await a.join(k2, ['x'], 60_000)
    await a.join(k3, ['z'], 60_000)
    await a.forgetJoins([k1, k2, name('join')])
    assert.deepEqual(await a.members(k1), [])
    assert.deepEqual(await a.members(k2), [])
    assert.deepEqual(await a.members(k3), ['z'], 'others stay')
    assert.deepEqual(await a.join(k1, ['y'], 60_000), { size: 1, added: 1 })
    await a.forgetJoins([])
  })

  it('lapses ttl after its last change', async () => {
    const [a, b] = [await open(), await open()]
    const key = name('join')
    await a.join(key, ['m1'], 400)
    await sleep(250)
    await b.join(key, ['m2'], 400)
    await sleep(250)
    assert.deepEqual((await a.members(key)).sort(), ['m1', 'm2'], 'the second join pushed the lapse out')
    await sleep(350)
    assert.deepEqual(await a.members(key), [], 'lapsed')
    assert.deepEqual(await b.join(key, ['m1'], 400), { size: 1, added: 1 }, 'a lapsed join starts again')
  })
}
