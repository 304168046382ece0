import type { Clock, Timer } from '@loadmesh/clock'
import type { ManualClock } from '@loadmesh/clock'

/** Lets pending promise callbacks (settled requests) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Small seeded PRNG (mulberry32) so schedules are reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface FiredRequest {
  intendedAt: number
  firedAt: number
  settle: () => void
  settled: boolean
}

/** A `fire` whose requests stay in flight until the test settles them. */
export function heldFire(clock: Clock): { fire: (t: number) => Promise<unknown>; fired: FiredRequest[]; inFlight: () => number } {
  const fired: FiredRequest[] = []
  let inFlight = 0
  return {
    fired,
    inFlight: () => inFlight,
    fire(t) {
      inFlight++
      return new Promise<void>((resolve) => {
        const r: FiredRequest = {
          intendedAt: t,
          firedAt: clock.now(),
          settled: false,
          settle: () => {
            if (r.settled) return
            r.settled = true
            inFlight--
            resolve()
          }
        }
        fired.push(r)
      })
    }
  }
}

/**
 * A clock whose timers only fire on `granularityMs` boundaries, like a busy event loop that wakes
 * late. Time itself is the manual clock's.
 */
export function coarseClock(base: ManualClock, granularityMs: number): Clock {
  const later = (delayMs: number): number => {
    const due = base.now() + Math.max(0, delayMs)
    return Math.ceil(due / granularityMs) * granularityMs - base.now()
  }
  return {
    now: () => base.now(),
    wallNow: () => base.wallNow(),
    setTimer: (fn, ms): Timer => base.setTimer(fn, later(ms)),
    setImmediate: (fn): Timer => base.setTimer(fn, later(0))
  }
}

/** Advances a manual clock in steps, letting settled requests run between steps. */
export async function advanceInSteps(clock: ManualClock, totalMs: number, stepMs: number): Promise<void> {
  const end = clock.now() + totalMs
  while (clock.now() < end) {
    clock.advanceTo(Math.min(end, clock.now() + stepMs))
    await flush()
  }
}
