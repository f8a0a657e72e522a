/**
 * Fuzzing the Redis scripts' entry parsing: random entries (random bytes, random framings, random
 * delayed members) pushed straight into a queue's keys, then reserved through the broker. No
 * script may fail, and every entry must be delivered (a valid one, once per id) or dead-lettered.
 *
 * The oracle below restates the framing rules of src/brokers/redis/scripts/includes/entry.lua in
 * TypeScript (with Node's own UTF-8 check), so the scripts are checked against a second reading.
 * Used by src/brokers/redis/fuzz.test.ts (a few thousand cases in CI) and bench/redis-fuzz-long.ts.
 */
import { isUtf8 } from 'node:buffer'
import type { Redis } from 'ioredis'
import type { RedisBroker } from '../src/brokers/redis/broker.js'
import { QueueKeys } from '../src/brokers/redis/keys.js'

import { rng } from './prng.js'

export { rng }

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
const int = (r: () => number, n: number) => Math.floor(r() * n)

function bytes(r: () => number, max: number): Buffer {
  const b = Buffer.alloc(int(r, max + 1))
  const mode = int(r, 3)
  for (let i = 0; i < b.length; i++)
    b[i] =
      mode === 0
        ? int(r, 256)
        : mode === 1
          ? 32 + int(r, 95)
          : pick(
              r,
              [
                0x3a, 0x30, 0x39, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0xff,
                0x7b,
              ],
            )
  return b
}

const digits = (r: () => number, n: number) => Array.from({ length: n }, () => int(r, 10)).join('')

/** One random waiting entry: mostly near-valid framings, some pure noise. */
export function randomEntry(r: () => number, ids: readonly string[]): Buffer {
  if (r() < 0.15) return bytes(r, 40)
  // Mostly fresh ids; some shared ones (duplicates), some random bytes (maybe not UTF-8).
  const x = r()
  const id = x < 0.1 ? Buffer.from(pick(r, ids)) : x < 0.7 ? Buffer.from(`u${int(r, 2 ** 40)}`) : bytes(r, 12)
  const body = bytes(r, 30)
  if (r() < 0.4) return Buffer.concat([Buffer.from(`${int(r, 1000)}:${id.length}:`), id, body])
  const count = pick(r, ['0', '1', digits(r, 1 + int(r, 12)), '', 'x', '-1', ' 1', '1.5', '0x1'])
  const len = pick(r, [
    String(id.length),
    String(id.length),
    String(id.length + int(r, 5) - 2),
    digits(r, 1 + int(r, 7)),
    '',
    '-3',
  ])
  const sep = pick(r, [':', ':', ':', '', ';'])
  return Buffer.concat([Buffer.from(`${count}:${len}${sep}`), id, body])
}

/** One random delayed member: a priority prefix (often valid), then an entry. */
export function randomDelayed(r: () => number, ids: readonly string[]): Buffer {
  const prefix = pick(r, ['0:', '5:', '9:', '9:', '', '-1:', '10:', 'x:', ':', '3'])
  return Buffer.concat([Buffer.from(prefix), randomEntry(r, ids)])
}

/** The id of a valid entry (per entry.lua's rules), or null when the scripts must bury it. */
export function validId(e: Buffer): string | null {
  const m = /^(\d+):(\d+):/.exec(e.toString('latin1', 0, Math.min(e.length, 64)))
  if (!m) return null
  const [head, count, len] = m as unknown as [string, string, string]
  const n = Number(len)
  if (count.length > 9 || len.length > 4 || n === 0 || head.length + n > e.length) return null
  const id = e.subarray(head.length, head.length + n)
  return isUtf8(id) ? id.toString() : null
}

export function validDelayedId(m: Buffer): string | null {
  return m.length >= 2 && m[0]! >= 0x30 && m[0]! <= 0x39 && m[1] === 0x3a ? validId(m.subarray(2)) : null
}

export interface FuzzRound {
  readonly cases: number
  readonly delivered: number
  readonly dead: number
}

/**
 * Pushes `n` random entries (a quarter as due delayed members) into `queue`, reserves until
 * nothing is left, and checks the outcome against the oracle; throws on any difference. Leaves the
 * queue's keys deleted.
 */
export async function fuzzRound(
  redis: Redis,
  broker: RedisBroker,
  queue: string,
  n: number,
  r: () => number,
): Promise<FuzzRound> {
  const k = new QueueKeys(broker.prefix, queue)
  const ids = Array.from({ length: 8 }, (_, i) => `id-${i}-${int(r, 1e6)}`)
  const ready: Buffer[][] = Array.from({ length: 10 }, () => [])
  const delayed = new Map<string, Buffer>() // a zset holds each member once
  for (let i = 0; i < n; i++) {
    if (r() < 0.25) {
      const m = randomDelayed(r, ids)
      delayed.set(m.toString('latin1'), m)
    } else ready[int(r, 10)]!.push(randomEntry(r, ids))
  }
  const all = [...ready.flat(), ...delayed.values()]
  const valid = new Map<string, number>() // valid id -> copies
  for (const e of ready.flat()) {
    const id = validId(e)
    if (id !== null) valid.set(id, (valid.get(id) ?? 0) + 1)
  }
  for (const m of delayed.values()) {
    const id = validDelayedId(m)
    if (id !== null) valid.set(id, (valid.get(id) ?? 0) + 1)
  }
  const w = redis.multi()
  ready.forEach((list, p) => list.length && w.rpush(k.ready[p]!, ...list))
  if (delayed.size) w.zadd(k.delayed, ...[...delayed.values()].flatMap((m) => [0, m]))
  await w.exec()

  // Nothing is acked before the end: every id stays leased, so a second copy is always buried.
  const got = new Map<string, number>()
  let taken = 0
  for (let rounds = 0; ; rounds++) {
    if (rounds > n + 10) throw new Error('fuzz: reserve does not drain the queue')
    const batch = await broker.reserve([queue], 500, { leaseMs: 600_000 })
    if (!batch.length) {
      // A reserve that took only bad entries returns nothing: look whether any are left.
      const left = await Promise.all([...k.ready.map((l) => redis.llen(l)), redis.zcard(k.delayed)])
      if (left.every((x) => x === 0)) break
      continue
    }
    taken += batch.length
    for (const d of batch) got.set(d.id, (got.get(d.id) ?? 0) + 1)
  }
  const dead = await redis.hlen(k.dead)
  const wrong: string[] = []
  for (const [id, c] of got) if (c !== 1 || !valid.has(id)) wrong.push(`delivered ${id} ×${c}`)
  for (const id of valid.keys()) if (!got.has(id)) wrong.push(`valid ${id} not delivered`)
  if (taken + dead !== all.length) wrong.push(`${taken} delivered + ${dead} dead ≠ ${all.length} entries`)
  await redis.del(...k.reserve, k.wake)
  if (wrong.length) throw new Error(`fuzz: ${wrong.slice(0, 5).join('; ')}`)
  return { cases: all.length, delivered: taken, dead }
}
