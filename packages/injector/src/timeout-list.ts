import type { Clock, Timer } from '@loadmesh/clock'

/** Something a TimeoutList can expire; the list threads itself through these two fields. */
export interface TimeoutEntry {
  /** Clock time at which the entry expires. */
  deadline: number
  timeoutPrev: TimeoutEntry | null
  timeoutNext: TimeoutEntry | null
  /** Called once when the deadline passes while the entry is still listed. */
  onTimeout(): void
}

/**
 * Per-request timeouts with one timer for all of them. Every request of an injector has the same
 * timeout counted from its send, so deadlines come in send order: a doubly linked list in
 * insertion order is sorted by deadline, insertion and removal are O(1) and allocate nothing, and
 * one timer armed for the head covers the whole list. That replaces a setTimeout, a clearTimeout
 * and two small objects per request.
 *
 * The timer is not moved when the head is removed: when it fires it expires what is due and
 * re-arms for the new head, so with fast requests it fires about once per timeout period.
 * Timers can fire early by a fraction of a millisecond (Node rounds to its cached loop time), so
 * an entry expires only once the clock has reached its deadline: never early, at most one timer
 * granule late.
 */
export class TimeoutList {
  private readonly clock: Clock
  private head: TimeoutEntry | null = null
  private tail: TimeoutEntry | null = null
  private timer: Timer | null = null

  constructor(clock: Clock) {
    this.clock = clock
  }

  /**
   * Lists `e` with deadline `deadline`; deadlines must not decrease from one add to the next.
   * `now` is the caller's current clock reading (the list never reads the clock just to add).
   */
  add(e: TimeoutEntry, deadline: number, now: number): void {
    e.deadline = deadline
    e.timeoutNext = null
    e.timeoutPrev = this.tail
    if (this.tail === null) this.head = e
    else this.tail.timeoutNext = e
    this.tail = e
    if (this.timer === null) this.arm(deadline, now)
  }

  /** Unlists `e` (a no-op when it is not listed). */
  remove(e: TimeoutEntry): void {
    const prev = e.timeoutPrev
    const next = e.timeoutNext
    if (prev === null && this.head !== e) return
    if (prev === null) this.head = next
    else prev.timeoutNext = next
    if (next === null) this.tail = prev
    else next.timeoutPrev = prev
    e.timeoutPrev = null
    e.timeoutNext = null
    if (this.head === null) this.disarm()
  }

  /** Stops the timer and forgets every entry without expiring them. */
  clear(): void {
    let e = this.head
    while (e !== null) {
      const next = e.timeoutNext
      e.timeoutPrev = null
      e.timeoutNext = null
      e = next
    }
    this.head = null
    this.tail = null
    this.disarm()
  }

  private arm(at: number, now: number): void {
    this.timer = this.clock.setTimer(this.fire, Math.max(0, at - now))
  }

  private disarm(): void {
    if (this.timer !== null) { this.timer.cancel(); this.timer = null }
  }

  private readonly fire = (): void => {
    this.timer = null
    const now = this.clock.now()
    let e = this.head
    while (e !== null && e.deadline <= now) {
      this.remove(e)
      e.onTimeout()
      e = this.head
    }
    if (this.head !== null && this.timer === null) this.arm(this.head.deadline, now)
  }
}
