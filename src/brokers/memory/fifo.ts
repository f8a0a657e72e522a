/** A FIFO with O(1) push and shift (a head index; the array is compacted as the head moves). */
export class Fifo<T> {
  private items: T[] = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(item: T): void {
    this.items.push(item)
  }

  /** Puts an item at the front (O(1) after a shift, O(n) otherwise: rare by design). */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item
    else this.items.unshift(item)
  }

  /**
   * Inserts an item into a FIFO whose items are in ascending `key` order, keeping that order
   * (binary search; O(n) to make room, O(1) when it lands at either end).
   */
  insertSorted(item: T, key: (t: T) => number): void {
    const k = key(item)
    let lo = this.head
    let hi = this.items.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (key(this.items[mid]!) < k) lo = mid + 1
      else hi = mid
    }
    if (lo === this.head) this.unshift(item)
    else if (lo === this.items.length) this.items.push(item)
    else this.items.splice(lo, 0, item)
  }

  peek(): T | undefined {
    return this.items[this.head]
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]!
    this.items[this.head++] = undefined as T
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
}
