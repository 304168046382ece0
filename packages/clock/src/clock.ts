/**
 * Time is injected everywhere so that schedulers, windows and the simulator can be tested under a
 * manual clock. `now()` is a monotonic millisecond reading (fractional); `wallNow()` is wall-clock
 * epoch milliseconds, used only to stamp reports and to agree start times between hosts.
 */
export interface Timer {
  /** Cancels the timer; a no-op when it already fired. */
  cancel(): void
}

export interface Clock {
  /** Monotonic time in milliseconds (fractional). Only differences are meaningful. */
  now(): number
  /** Wall-clock time in epoch milliseconds. */
  wallNow(): number
  /** Calls `fn` once, no earlier than `delayMs` from now. */
  setTimer(fn: () => void, delayMs: number): Timer
  /**
   * Calls `fn` on the next turn of the event loop, after pending I/O callbacks. Schedulers use it to
   * poll the last fraction of a millisecond, where timers are too coarse.
   */
  setImmediate(fn: () => void): Timer
}
