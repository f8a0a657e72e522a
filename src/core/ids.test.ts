import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { uuidv7 } from './ids.js'

describe('uuidv7', () => {
  it('is a version-7, variant-1 UUID carrying the time', () => {
    const now = Date.UTC(2026, 10, 30, 12, 0, 0)
    const id = uuidv7(now)
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), now)
  })

  it('sorts in creation order, even many within a millisecond, and never repeats', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7())
    assert.deepEqual([...ids].sort(), ids)
    assert.equal(new Set(ids).size, ids.length)
  })
})
