/** Token buckets: a burst, then a steady rate shared by every client. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { name, sleep, type OpenClient } from './support.js'

export function bucketTests(open: OpenClient): void {
  it('grants the burst, then refuses with the wait until the tokens are there', async () => {
    const [a, b] = [await open(), await open()]
    const key = name('bucket')
    const spec = { rate: 5, perMs: 1000, burst: 5 } // a token every 200 ms
    for (let i = 0; i < 5; i++) assert.equal(await (i % 2 ? a : b).take(key, 1, spec), 0, `token ${i}`)
    const wait1 = await a.take(key, 1, spec)
    assert.ok(wait1 > 0 && wait1 <= 200, `one token: wait ${wait1} ms`)
    const wait3 = await b.take(key, 3, spec)
    assert.ok(wait3 > 400 && wait3 <= 600, `three tokens: wait ${wait3} ms`)
  })

  it('a refused take takes nothing; tokens come back with time', async () => {
    const a = await open()
    const key = name('bucket')
    const spec = { rate: 10, perMs: 1000, burst: 4 } // a token every 100 ms
    assert.equal(await a.take(key, 4, spec), 0)
    await sleep(250)
    assert.ok((await a.take(key, 4, spec)) > 0, 'two tokens are not four')
    assert.equal(await a.take(key, 2, spec), 0, 'the refused take left its tokens')
    assert.ok((await a.take(key, 1, spec)) > 0)
    await sleep(1000)
    assert.equal(await a.take(key, 4, spec), 0, 'refilled up to the burst')
    assert.ok((await a.take(key, 1, spec)) > 0, 'never beyond the burst')
  })

  it('holds `rate` tokens when no burst is given', async () => {
    const a = await open()
    const key = name('bucket')
    const spec = { rate: 3, perMs: 60_000 }
    for (let i = 0; i < 3; i++) assert.equal(await a.take(key, 1, spec), 0)
    const wait = await a.take(key, 1, spec)
    assert.ok(wait > 0 && wait <= 20_000, `wait ${wait} ms`)
  })

  it('keeps buckets apart', async () => {
    const a = await open()
    const spec = { rate: 1, perMs: 60_000 }
    assert.equal(await a.take(name('bucket'), 1, spec), 0)
    assert.equal(await a.take(name('bucket'), 1, spec), 0)
  })

  it('several clients together never get more than burst + rate * elapsed', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => open()))
    const key = name('bucket')
    const spec = { rate: 20, perMs: 1000, burst: 10 }
    let granted = 0
    const t0 = Date.now()
    await Promise.all(
      clients.map(async (c) => {
        while (Date.now() - t0 < 600) {
          const wait = await c.take(key, 1, spec)
          if (wait === 0) granted++
          else await sleep(Math.min(wait, 20))
        }
      }),
    )
    const elapsed = Date.now() - t0
    const most = spec.burst + (spec.rate * elapsed) / spec.perMs
    assert.ok(granted <= Math.floor(most) + 1, `granted ${granted}, at most ${most.toFixed(1)}`)
    assert.ok(granted >= spec.burst + 4, `granted ${granted}: the burst and some refill`)
  })
}
