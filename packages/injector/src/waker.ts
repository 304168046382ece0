import type { Clock, Timer } from '@loadmesh/clock'

/**
 * Calls `fn` as soon as possible once the clock reaches a target time. Timers alone are too coarse
 * (Node keeps timer time in whole milliseconds, and a delay under 1 ms becomes 1 ms, so they fire
 * up to ~2 ms late), so it sleeps on a timer until `spinMs` before the target and then polls with
 * `clock.setImmediate`, which lets I/O callbacks run between polls. The default of 2 ms is
 * measured: at 1,000 req/s a 1 ms margin left p99 schedule lag at 0.6-2 ms, 2 ms brought it to
 * 0.2-0.6 ms, 3 ms gained nothing (`pnpm bench -- --only schedule-lag`).
 *
 * When two polls in a row read the same time, the clock is not moving on its own (a manual clock
 * in tests): polling would never end, so it falls back to a timer for the rest of the wait.
 */
export interface Waker {
  /** (Re)arms the waker for time `t`, replacing any earlier target. */
  wakeAt(t: number): void
  cancel(): void
}

export function createWaker(clock: Clock, fn: () => void, spinMs = 2): Waker {
  let target = Number.NaN
  let handle: Timer | null = null
  let lastPoll = Number.NaN

  function check(): void {
    handle = null
    const now = clock.now()
    const remaining = target - now
    if (remaining <= 0) {
      lastPoll = Number.NaN
      fn()
      return
    }
    if (remaining > spinMs) {
      lastPoll = Number.NaN
      handle = clock.setTimer(check, remaining - spinMs)
    } else if (now === lastPoll) {
      handle = clock.setTimer(check, remaining)
    } else {
      lastPoll = now
      handle = clock.setImmediate(check)
    }
  }

  return {
    wakeAt(t) {
      if (handle !== null) handle.cancel()
      target = t
      lastPoll = Number.NaN
      // Never calls fn synchronously, so a caller re-arming from inside fn cannot recurse.
      const remaining = t - clock.now()
      handle = remaining > spinMs ? clock.setTimer(check, remaining - spinMs) : clock.setImmediate(check)
    },
    cancel() {
      if (handle !== null) handle.cancel()
      handle = null
    }
  }
}
