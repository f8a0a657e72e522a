/**
 * Task ids: UUID version 7 (RFC 9562), time-ordered. Ids sent close together sort close
 * together, so the broker's and result store's indexes grow at one end instead of being written
 * all over (a large difference for B-trees: a batch of 200 results touches a few pages, not 200).
 */
import { randomFillSync } from 'node:crypto'

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const pool = Buffer.alloc(4096)
let poolAt = pool.length
let lastMs = -1
let seq = 0

function randomBytes(n: number): number {
  if (poolAt + n > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const at = poolAt
  poolAt += n
  return at
}

/** A new UUIDv7: 48 bits of Unix milliseconds, a 12-bit sequence within the millisecond, 62 random bits. */
export function uuidv7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    seq = pool[randomBytes(1)]! & 0x3f // start low so a millisecond has room for 4,000 ids
  } else {
    seq++
    if (seq > 0xfff) {
      // More than 4,096 ids in one millisecond: borrow the next one, keeping order.
      lastMs++
      seq = 0
    }
  }
  const ms = lastMs
  const r = randomBytes(8)
  const h = Math.floor(ms / 2 ** 16)
  const l = ms % 2 ** 16
  return (
    HEX[(h >>> 24) & 0xff]! +
    HEX[(h >>> 16) & 0xff]! +
    HEX[(h >>> 8) & 0xff]! +
    HEX[h & 0xff]! +
    '-' +
    HEX[(l >>> 8) & 0xff]! +
    HEX[l & 0xff]! +
    '-' +
    HEX[0x70 | (seq >>> 8)]! +
    HEX[seq & 0xff]! +
    '-' +
    HEX[0x80 | (pool[r]! & 0x3f)]! +
    HEX[pool[r + 1]!]! +
    '-' +
    HEX[pool[r + 2]!]! +
    HEX[pool[r + 3]!]! +
    HEX[pool[r + 4]!]! +
    HEX[pool[r + 5]!]! +
    HEX[pool[r + 6]!]! +
    HEX[pool[r + 7]!]!
  )
}
