import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toMs } from './duration.js'
import { backoffDelay, normalizeRetry, shouldRetry } from './retry.js'

describe('retry policy', () => {
  it('grows exponentially, capped, with jitter in [0.5, 1)', () => {
    const p = normalizeRetry({ max: 10, delay: '1s', maxDelay: '10s', jitter: false })
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(p, n)),
      [1000, 2000, 4000, 8000, 10000, 10000],
    )
    const j = normalizeRetry({ max: 10, delay: 1000 })
    assert.equal(
      backoffDelay(j, 1, undefined, () => 0),
      500,
    )
    assert.equal(
      backoffDelay(j, 1, undefined, () => 0.999999),
      1000,
    )
  })

  it('supports fixed, linear and custom backoff', () => {
    assert.equal(
      backoffDelay(normalizeRetry({ max: 3, backoff: 'fixed', delay: 300, jitter: false }), 3),
      300,
    )
    assert.equal(
      backoffDelay(normalizeRetry({ max: 3, backoff: 'linear', delay: 300, jitter: false }), 3),
      900,
    )
    assert.equal(backoffDelay(normalizeRetry({ max: 3, backoff: (n) => n * 7, jitter: false }), 3), 21)
  })

  it('retries only the listed errors', () => {
    const p = normalizeRetry({ max: 3, on: [TypeError] })
    assert.equal(shouldRetry(p, new TypeError('x')), true)
    assert.equal(shouldRetry(p, new Error('x')), false)
    assert.equal(
      shouldRetry(normalizeRetry({ max: 3, on: (e) => (e as Error).message === 'go' }), new Error('go')),
      true,
    )
    assert.equal(shouldRetry(normalizeRetry(2), new Error('any')), true)
  })

  it('parses durations and names a bad one', () => {
    assert.equal(toMs('250ms'), 250)
    assert.equal(toMs('1.5s'), 1500)
    assert.equal(toMs('2m'), 120_000)
    assert.equal(toMs(42), 42)
    assert.throws(() => toMs('soon', 'countdown'), /countdown "soon" is not a duration/)
  })
})
