/** The bounded event log: append, read after a cursor, trim the oldest beyond maxLen. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { name, type OpenClient } from './support.js'

export function eventLogTests(open: OpenClient): void {
  it('appends events with increasing ids, read back oldest first by another client', async () => {
    const [w, r] = [await open(), await open()]
    const stream = name('stream')
    const first = await w.append(stream, ['e1', 'e2'], 100)
    const second = await w.append(stream, ['e3'], 100)
    assert.equal(first.length, 2)
    assert.equal(second.length, 1)
    const ids = [...first, ...second]
    assert.equal(new Set(ids).size, 3, 'distinct ids')
    assert.deepEqual(await r.read(stream, null, 100), [
      { id: ids[0], data: 'e1' },
      { id: ids[1], data: 'e2' },
      { id: ids[2], data: 'e3' },
    ])
    assert.deepEqual(await w.append(stream, [], 100), [])
  })

  it('reads after a cursor, up to a limit', async () => {
    const [w, r] = [await open(), await open()]
    const stream = name('stream')
    const ids = await w.append(
      stream,
      Array.from({ length: 7 }, (_, i) => `e${i}`),
      100,
    )
    const page1 = await r.read(stream, null, 3)
    assert.deepEqual(
      page1.map((e) => e.data),
      ['e0', 'e1', 'e2'],
    )
    const page2 = await r.read(stream, page1.at(-1)!.id, 3)
    assert.deepEqual(
      page2.map((e) => e.data),
      ['e3', 'e4', 'e5'],
    )
    assert.deepEqual(
      (await r.read(stream, ids[5]!, 3)).map((e) => e.data),
      ['e6'],
    )
    assert.deepEqual(await r.read(stream, ids[6]!, 3), [], 'nothing after the last')
    // A reader that caught up sees what is appended next.
    const [later] = await w.append(stream, ['e7'], 100)
    assert.deepEqual(await r.read(stream, ids[6]!, 3), [{ id: later, data: 'e7' }])
  })

  it('drops the oldest events beyond maxLen', async () => {
    const w = await open()
    const stream = name('stream')
    const ids = await w.append(
      stream,
      Array.from({ length: 10 }, (_, i) => `e${i}`),
      5,
    )
    assert.deepEqual(
      (await w.read(stream, null, 100)).map((e) => e.data),
      ['e5', 'e6', 'e7', 'e8', 'e9'],
    )
    await w.append(stream, ['e10', 'e11'], 5)
    const kept = await w.read(stream, null, 100)
    assert.deepEqual(
      kept.map((e) => e.data),
      ['e7', 'e8', 'e9', 'e10', 'e11'],
    )
    assert.deepEqual(
      (await w.read(stream, ids[0]!, 100)).map((e) => e.data),
      kept.map((e) => e.data),
      'a cursor older than the oldest kept reads from the oldest kept',
    )
  })

  it('keeps streams apart; an unknown stream is empty', async () => {
    const w = await open()
    const [s1, s2] = [name('stream'), name('stream')]
    await w.append(s1, ['a'], 10)
    await w.append(s2, ['b'], 10)
    assert.deepEqual(
      (await w.read(s1, null, 10)).map((e) => e.data),
      ['a'],
    )
    assert.deepEqual(await w.read(name('stream'), null, 10), [])
  })
}
