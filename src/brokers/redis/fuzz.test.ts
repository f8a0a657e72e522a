/**
 * Fuzzes the scripts' entry parsing with a few thousand random entries (bench/redis-fuzz.ts has
 * the generator and the oracle; bench/redis-fuzz-long.ts runs a million). A script error fails
 * the reserve, so any entry the checks miss shows up here.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { fuzzRound, rng } from '../../../bench/redis-fuzz.js'
import { RedisBroker } from './broker.js'

const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-test-${randomUUID().slice(0, 8)}`
const url = `${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`

describe('redis broker: fuzzed entries', () => {
  const redis = new Redis(base)
  const broker = new RedisBroker(url)
  after(async () => {
    await broker.close()
    const keys = await redis.keys(`{${prefix}*`)
    if (keys.length) await redis.del(...keys)
    await redis.quit()
  })

  it('delivers or dead-letters every one of 4,000 random entries, without a script error', async () => {
    await broker.connect()
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9)
    const r = rng(seed)
    let cases = 0
    let delivered = 0
    for (let i = 0; i < 4; i++) {
      const round = await fuzzRound(redis, broker, `fuzz-${i}`, 1000, r).catch((e: Error) => {
        throw new Error(`${e.message} (FUZZ_SEED=${seed})`)
      })
      cases += round.cases
      delivered += round.delivered
    }
    assert.ok(cases > 3800, `${cases} cases run`)
    assert.ok(delivered > 0 && delivered < cases, `${delivered} of ${cases} delivered`)
  })
})
