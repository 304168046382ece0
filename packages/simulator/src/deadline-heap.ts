/** Something with an absolute due time that can sit in an EventHeap. */
export interface HeapItem {
  /** Absolute clock time (ms) the item is due. */
  at: number
  /** Orders items due at the same time (lower first), so runs are reproducible. */
  tie: number
  /** Position in the heap, -1 when not in it. Owned by the heap. */
  heapIndex: number
}

/**
 * A binary min-heap on (at, tie) that knows each item's position, so an item can be moved or
 * removed in O(log n) without searching. The fixed engine keeps every request's next emission in
 * one of these and arms a single clock timer for the top: 10,000 open streams cost one timer, not
 * 10,000. (The same structure as @loadmesh/sim-engine's EventHeap, which that package keeps internal.)
 */
export class DeadlineHeap<T extends HeapItem> {
  private readonly items: T[] = []

  get size(): number { return this.items.length }

  peek(): T | undefined { return this.items[0] }

  /** Inserts the item, or moves it when it is already in the heap (its `at` changed). */
  push(item: T): void {
    if (item.heapIndex >= 0) {
      this.update(item)
      return
    }
    item.heapIndex = this.items.length
    this.items.push(item)
    this.up(item.heapIndex)
  }

  pop(): T | undefined {
    const items = this.items
    if (items.length === 0) return undefined
    const top = items[0]
    const last = items.pop() as T
    if (items.length > 0) {
      items[0] = last
      last.heapIndex = 0
      this.down(0)
    }
    top.heapIndex = -1
    return top
  }

  remove(item: T): void {
    const i = item.heapIndex
    if (i < 0) return
    const items = this.items
    const last = items.pop() as T
    if (i < items.length) {
      items[i] = last
      last.heapIndex = i
      this.update(last)
    }
    item.heapIndex = -1
  }

  clear(): T[] {
    const all = this.items.splice(0)
    for (const it of all) it.heapIndex = -1
    return all
  }

  private update(item: T): void {
    this.up(item.heapIndex)
    this.down(item.heapIndex)
  }

  private less(a: T, b: T): boolean {
    return a.at < b.at || (a.at === b.at && a.tie < b.tie)
  }

  private up(i: number): void {
    const items = this.items
    const item = items[i]
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = items[p]
      if (!this.less(item, parent)) break
      items[i] = parent
      parent.heapIndex = i
      i = p
    }
    items[i] = item
    item.heapIndex = i
  }

  private down(i: number): void {
    const items = this.items
    const n = items.length
    const item = items[i]
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.less(items[r], items[l]) ? r : l
      if (!this.less(items[c], item)) break
      items[i] = items[c]
      items[i].heapIndex = i
      i = c
    }
    items[i] = item
    item.heapIndex = i
  }
}
