import { rng } from '../../bench/prng.js'

/** A small seeded PRNG (mulberry32) for randomized tests that must replay from a printed seed. */
export class Prng {
  /** A float in [0, 1). */
  readonly next: () => number

  constructor(readonly seed: number) {
    this.next = rng(seed)
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!
  }

  chance(p: number): boolean {
    return this.next() < p
  }
}
