import { systemClock } from '@loadmesh/clock'
import type { Clock, Timer } from '@loadmesh/clock'
import { createPreciseAlarm } from './precise-alarm.ts'
import type { PreciseAlarm } from './precise-alarm.ts'

/**
 * Calls `fn` as soon as possible once the clock reaches a target time. Timers alone are too coarse
 * (Node keeps timer time in whole milliseconds, so they fire up to ~2 ms late).
 *
 * With the system clock, the waker sleeps on a precise alarm (a helper thread, see
 * precise-alarm.ts) and keeps a plain timer 2 ms past the target as a safety net. The main thread
 * then sleeps until the due time instead of polling, which is what removed the >1 ms lag tail
 * (measured in precise-alarm.ts). A wait longer than ARM_WITHIN_MS sleeps on a plain timer first
 * and arms the alarm only for its last ms; a wake armed with `block` skips the alarm and blocks
 * the main thread for its last BLOCK_MS instead (blockUntil: a start many processes meet at once).
 *
 * With any other clock (a manual clock in tests), or when no alarm can be had, it sleeps on a
 * timer until `spinMs` before the target and then polls with `clock.setImmediate`, which lets
 * I/O callbacks run between polls. When two polls in a row read the same time, the clock is not
 * moving on its own (a manual clock): polling would never end, so it falls back to a timer for
 * the rest of the wait.
 */
export interface Waker {
  /**
   * (Re)arms the waker for time `t`, replacing any earlier target. With `block` (system clock
   * only), the last BLOCK_MS before `t` are slept on this thread instead of through the alarm
   * thread, if `block()` still says so then (see blockUntil).
   */
  wakeAt(t: number, block?: () => boolean): void
  cancel(): void
  /** Cancels and frees the waker's resources; it must not be used afterwards. */
  close(): void
}

/** How far past the target the safety-net timer of a precise waker fires. */
const BACKSTOP_MS = 2
/**
 * The alarm rings ~0.1 ms late (futex timer slack plus the hop to the main thread), so it is set
 * this much early and the rest is polled; below POLL_BELOW_MS polling is cheaper than a ring.
 */
const EARLY_MS = 0.1
const POLL_BELOW_MS = 0.15
/**
 * A blocking wake sleeps on a plain timer until this long before the target (libuv timers are
 * whole milliseconds and fire up to ~1 ms late), then blocks the thread for the rest.
 */
const BLOCK_MS = 2
/**
 * The alarm is armed only for the last ARM_WITHIN_MS of a wait; a longer one first sleeps on a
 * plain timer until ARM_LEAD_MS before its target. Arming (and cancelling) wakes the alarm
 * thread, which then has to run: right after a send, when N agents on one host all send at T0,
 * that was one more thread wake-up per process in the burst, for an alarm 250 ms away.
 */
const ARM_WITHIN_MS = 20
const ARM_LEAD_MS = 10
/** Atomics.wait returns this much late or more (futex timer slack); the rest is spun. */
const BLOCK_EARLY_MS = 0.05

let blockCell: Int32Array | null = null

/**
 * Sleeps this thread until `t` (clock time) in `Atomics.wait`, a nanosecond futex wait, then spins
 * out the futex's early margin. Nothing else runs on the thread meanwhile, so it is only for the
 * last moments before a send that nothing in flight is waiting behind.
 *
 * Why not the alarm thread: when many processes start at one instant on few cores (N agents meeting
 * one plan's T0), the alarm's hop (its thread wakes, posts, the main thread wakes) is two thread
 * wake-ups per process instead of one. Measured on this 2-core VM, 16 bare processes each meeting
 * a shared T0 20 times: first send after T0 p50 0.73-0.83 ms, p99 3.9 ms blocking like this, against
 * p50 1.5-1.6 ms, p99 11-19 ms through a helper thread as the alarm does (docs/architecture.md).
 */
export function blockUntil(clock: Clock, t: number): void {
  blockCell ??= new Int32Array(new SharedArrayBuffer(4))
  const wait = t - clock.now() - BLOCK_EARLY_MS
  if (wait > 0) Atomics.wait(blockCell, 0, 0, wait)
  while (clock.now() < t) { /* the futex's early margin, at most BLOCK_EARLY_MS */ }
}

export interface WakerOptions {
  /** How long before a due time a polling waker stops sleeping on a timer (default 2 ms). */
  spinMs?: number
  /** Use the precise alarm with the system clock (default true). */
  precise?: boolean
}

export function createWaker(clock: Clock, fn: () => void, opts: WakerOptions = {}): Waker {
  const spinMs = opts.spinMs ?? 2
  if (opts.precise !== false && clock === systemClock()) {
    const w = new PreciseWaker(clock, fn)
    if (w.alarm !== null) return w
  }
  return pollingWaker(clock, fn, spinMs)
}

class PreciseWaker implements Waker {
  readonly alarm: PreciseAlarm | null
  private readonly clock: Clock
  private readonly fn: () => void
  private target = Number.NaN
  private armed = false
  private block: (() => boolean) | null = null
  private alarmArmed = false
  private backstop: Timer | null = null
  private immediate: Timer | null = null

  constructor(clock: Clock, fn: () => void) {
    this.clock = clock
    this.fn = fn
    this.alarm = createPreciseAlarm(this.onRing)
  }

  wakeAt(t: number, block?: () => boolean): void {
    this.target = t
    this.armed = true
    this.block = block ?? null
    this.schedule(t - this.clock.now())
  }

  cancel(): void {
    this.armed = false
    this.block = null
    this.clearTimers()
    this.disarmAlarm()
  }

  close(): void {
    this.cancel()
    this.alarm?.release()
  }

  private schedule(remaining: number): void {
    this.clearTimers()
    if (this.block !== null) {
      // No alarm: the timer wakes this thread BLOCK_MS early, and check() blocks for the rest.
      this.disarmAlarm()
      if (remaining > BLOCK_MS) this.backstop = this.clock.setTimer(this.check, remaining - BLOCK_MS)
      else this.immediate = this.clock.setImmediate(this.check)
      return
    }
    if (remaining > ARM_WITHIN_MS) {
      this.disarmAlarm()
      this.backstop = this.clock.setTimer(this.check, remaining - ARM_LEAD_MS)
      return
    }
    // Never calls fn synchronously, so a caller re-arming from inside fn cannot recurse.
    if (remaining < POLL_BELOW_MS) {
      this.disarmAlarm()
      this.immediate = this.clock.setImmediate(this.check)
      return
    }
    this.alarm?.arm(this.target - EARLY_MS)
    this.alarmArmed = true
    // Also keeps the process alive while waiting (the alarm thread does not).
    this.backstop = this.clock.setTimer(this.check, remaining + BACKSTOP_MS)
  }

  private clearTimers(): void {
    if (this.backstop !== null) { this.backstop.cancel(); this.backstop = null }
    if (this.immediate !== null) { this.immediate.cancel(); this.immediate = null }
  }

  private disarmAlarm(): void {
    if (!this.alarmArmed) return
    this.alarmArmed = false
    this.alarm?.cancel()
  }

  private readonly onRing = (): void => {
    // The helper fires an arming once, so there is nothing left to cancel.
    this.alarmArmed = false
    this.check()
  }

  private readonly check = (): void => {
    if (!this.armed) return
    const remaining = this.target - this.clock.now()
    if (remaining > 0 && this.block !== null) {
      // The timer's millisecond rounding can wake it early; block only for the last stretch.
      if (remaining > BLOCK_MS + 1) { this.schedule(remaining); return }
      const ok = this.block()
      this.block = null
      if (ok) blockUntil(this.clock, this.target)
      else { this.schedule(remaining); return }
    } else if (remaining > 0) {
      // Early: a stale ring, or the backstop timer's millisecond rounding.
      this.schedule(remaining)
      return
    }
    this.armed = false
    this.block = null
    this.clearTimers()
    this.disarmAlarm()
    this.fn()
  }
}

function pollingWaker(clock: Clock, fn: () => void, spinMs: number): Waker {
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

  function cancel(): void {
    if (handle !== null) handle.cancel()
    handle = null
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
    cancel,
    close: cancel
  }
}
