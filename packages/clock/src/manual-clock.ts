import type { Clock, Timer } from './clock.ts'

/**
 * A clock that only moves when told to. Timers fire in deadline order (ties in creation order) while
 * `advance()` walks time forward, so code under test sees exactly the times it asked for.
 */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void
  /** Moves time to `t` (absolute), firing due timers. */
  advanceTo(t: number): void
  /** Fires timers until none is left or `limitMs` of time has passed. Returns the number fired. */
  runAll(limitMs?: number): number
  /** Number of timers still pending. */
  pending(): number
}

interface Entry {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

export function createManualClock(start = 0, wallStart = 1_700_000_000_000): ManualClock {
  let now = start
  let seq = 0
  // Timers are few in tests; a sorted array keeps this obviously correct.
  const queue: Entry[] = []

  function add(fn: () => void, delayMs: number): Timer {
    const e: Entry = { at: now + Math.max(0, delayMs), seq: seq++, fn, cancelled: false }
    let i = queue.length
    while (i > 0 && (queue[i - 1].at > e.at || (queue[i - 1].at === e.at && queue[i - 1].seq > e.seq))) i--
    queue.splice(i, 0, e)
    return { cancel: () => { e.cancelled = true } }
  }

  function fireUntil(t: number): number {
    let fired = 0
    while (queue.length > 0 && queue[0].at <= t) {
      const e = queue.shift() as Entry
      if (e.cancelled) continue
      now = Math.max(now, e.at)
      fired++
      e.fn()
    }
    now = Math.max(now, t)
    return fired
  }

  return {
    now: () => now,
    wallNow: () => wallStart + (now - start),
    setTimer: add,
    setImmediate: (fn) => add(fn, 0),
    advance: (ms) => { fireUntil(now + ms) },
    advanceTo: (t) => { fireUntil(t) },
    runAll(limitMs = Number.POSITIVE_INFINITY) {
      const end = now + limitMs
      let fired = 0
      while (queue.length > 0) {
        const next = queue[0]
        if (next.cancelled) { queue.shift(); continue }
        if (next.at > end) break
        fired += fireUntil(next.at)
      }
      return fired
    },
    pending: () => queue.filter((e) => !e.cancelled).length
  }
}
