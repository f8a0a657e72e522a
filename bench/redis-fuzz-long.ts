/**
 * `node --import tsx bench/redis-fuzz-long.ts [--cases 1000000] [--seed n]`: the long fuzz of the
 * Redis scripts' entry parsing (bench/redis-fuzz.ts), not part of CI. Prints the count run.
 * Uses $REDIS_URL (default redis://127.0.0.1:6379/0) under a fresh prefix, deleted afterwards.
 */
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { RedisBroker } from '../src/brokers/redis/broker.js'
import { fuzzRound, rng } from './redis-fuzz.js'

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '1000000' }, seed: { type: 'string' } },
})
const target = Number(values.cases)
const seed = Number(values.seed ?? Date.now() % 1e9)
const base = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const prefix = `celeriac-fuzz-${randomUUID().slice(0, 8)}`
const redis = new Redis(base)
const broker = new RedisBroker(`${base}${base.includes('?') ? '&' : '?'}prefix=${prefix}`)
await broker.connect()
const r = rng(seed)
const started = performance.now()
let cases = 0
let delivered = 0
let dead = 0
try {
  for (let i = 0; cases < target; i++) {
    const round = await fuzzRound(redis, broker, `fuzz-${i % 16}`, Math.min(2000, target - cases), r)
    cases += round.cases
    delivered += round.delivered
    dead += round.dead
    if (i % 50 === 0) process.stdout.write(`\r${cases.toLocaleString('en-US')} cases`)
  }
} catch (e) {
  console.error(`\nfailed after ${cases} cases (seed ${seed}): ${(e as Error).message}`)
  process.exitCode = 1
} finally {
  const s = (performance.now() - started) / 1000
  console.log(
    `\n${cases.toLocaleString('en-US')} cases (seed ${seed}): ${delivered.toLocaleString('en-US')} delivered, ${dead.toLocaleString('en-US')} dead-lettered, no script error; ${s.toFixed(1)} s`,
  )
  await broker.close()
  const keys = await redis.keys(`{${prefix}*`)
  if (keys.length) await redis.del(...keys)
  await redis.quit()
}
