import { describe, it } from 'node:test'
import { fuzzCase, rng } from '../../bench/decoder-fuzz.js'

describe('message decoder fuzz', () => {
  it('5,000 mutated envelopes: each decodes to a usable message or is refused as malformed', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9)
    const r = rng(seed)
    for (let i = 0; i < 5000; i++) {
      try {
        fuzzCase(r)
      } catch (err) {
        throw new Error(`seed ${seed}, case ${i}: ${(err as Error).message}`, { cause: err })
      }
    }
  })
})
