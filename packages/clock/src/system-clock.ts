import type { Clock, Timer } from './clock.ts'

/** The real clock: `performance.now()` for durations, `Date.now()` for wall time. */
export function systemClock(): Clock {
  return SYSTEM
}

const SYSTEM: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer(fn, delayMs): Timer {
    const t = setTimeout(fn, Math.max(0, delayMs))
    return { cancel: () => clearTimeout(t) }
  },
  setImmediate(fn): Timer {
    const t = setImmediate(fn)
    return { cancel: () => clearImmediate(t) }
  }
}
