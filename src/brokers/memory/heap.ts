/** A binary min-heap by a numeric key: O(log n) push and pop, O(1) peek. */
export class MinHeap<T> {
  private readonly keys: number[] = []
  private readonly items: T[] = []

  get size(): number {
    return this.items.length
  }

  push(key: number, item: T): void {
    let i = this.items.length
    this.keys.push(key)
    this.items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.keys[parent]! <= key) break
      this.keys[i] = this.keys[parent]!
      this.items[i] = this.items[parent]!
      i = parent
    }
    this.keys[i] = key
    this.items[i] = item
  }

  /** The smallest key, or Infinity when empty. */
  peekKey(): number {
    return this.items.length ? this.keys[0]! : Infinity
  }

  pop(): T | undefined {
    const n = this.items.length
    if (!n) return undefined
    const top = this.items[0]!
    const lastKey = this.keys.pop()!
    const lastItem = this.items.pop()!
    if (n > 1) {
      let i = 0
      const size = n - 1
      for (;;) {
        let child = 2 * i + 1
        if (child >= size) break
        if (child + 1 < size && this.keys[child + 1]! < this.keys[child]!) child++
        if (this.keys[child]! >= lastKey) break
        this.keys[i] = this.keys[child]!
        this.items[i] = this.items[child]!
        i = child
      }
      this.keys[i] = lastKey
      this.items[i] = lastItem
    }
    return top
  }
}
