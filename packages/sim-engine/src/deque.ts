/**
 * A ring-buffer double-ended queue: O(1) at both ends, no allocation once it has grown to its
 * working size. A replica's waiting queue needs the front too (preempted requests go back first).
 */
export class Deque<T> {
  private buf: Array<T | undefined>
  private head = 0
  private count = 0

  constructor(capacity = 16) {
    this.buf = new Array<T | undefined>(capacity)
  }

  get length(): number { return this.count }

  peekFront(): T | undefined {
    return this.count === 0 ? undefined : this.buf[this.head]
  }

  pushBack(v: T): void {
    if (this.count === this.buf.length) this.grow()
    this.buf[(this.head + this.count) % this.buf.length] = v
    this.count++
  }

  pushFront(v: T): void {
    if (this.count === this.buf.length) this.grow()
    this.head = (this.head - 1 + this.buf.length) % this.buf.length
    this.buf[this.head] = v
    this.count++
  }

  popFront(): T | undefined {
    if (this.count === 0) return undefined
    const v = this.buf[this.head]
    this.buf[this.head] = undefined
    this.head = (this.head + 1) % this.buf.length
    this.count--
    return v
  }

  /** Removes everything and returns it, front first. */
  drain(): T[] {
    const out: T[] = []
    for (let v = this.popFront(); v !== undefined; v = this.popFront()) out.push(v)
    return out
  }

  private grow(): void {
    const old = this.buf
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length]
    this.buf = next
    this.head = 0
  }
}
