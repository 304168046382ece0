/**
 * The best a sender on one core could have done with a given schedule, as baselines for a client's
 * schedule lag. Both meet each due time with nothing to send, nothing allocated, no event loop:
 *
 * - **spin**: reads the clock in a loop until each due time. It never leaves the CPU, so its
 *   lateness is only the time the OS or the hypervisor took the core away.
 * - **sleep**: sleeps in the kernel until each due time (a futex wait, nanosecond timeout) and spins
 *   out any remainder. It is what an ideal sender that sleeps between sends can do; what it loses
 *   against the spin is the cost of waking an idle CPU (on a VM, the host must schedule the idle
 *   vCPU again).
 *
 * Replayed over the same due times, on the same core, in the same run as a real client, they say
 * whether a lag bound was within the machine's reach, and how far a real client is from an ideal one.
 */
import { quantile } from './quantile.ts'

export interface BaselineResult {
  scheduled: number
  lag_ms: { p50: number | null; p99: number | null; p999: number | null; max: number | null }
  over_1ms: number
  over_2ms: number
}

export interface BaselineOptions {
  now?: () => number
  /** Sleeps about this many ms; absent: spin the whole time. */
  sleep?: (ms: number) => void
}

/**
 * `dueMs`: due times in ms from the start, non-decreasing. `startAt`: the clock time of the start.
 * Lateness is read right after each due time is seen to pass (several due in the same moment are
 * all seen at once, as a scheduler sends a batch).
 */
export function meetSchedule(dueMs: ArrayLike<number>, startAt: number, o: BaselineOptions = {}): BaselineResult {
  const now = o.now ?? (() => performance.now())
  const sleep = o.sleep
  const n = dueMs.length
  const late = new Float64Array(n)
  let t = now()
  for (let i = 0; i < n; i++) {
    const due = startAt + dueMs[i]
    if (sleep !== undefined && t < due) {
      sleep(due - t)
      t = now()
    }
    while (t < due) t = now()
    late[i] = t - due
  }
  late.sort()
  let over1 = 0
  let over2 = 0
  for (let i = 0; i < n; i++) {
    if (late[i] > 1) over1++
    if (late[i] > 2) over2++
  }
  return { scheduled: n, lag_ms: { p50: quantile(late, 0.5), p99: quantile(late, 0.99), p999: quantile(late, 0.999), max: quantile(late, 1) }, over_1ms: over1, over_2ms: over2 }
}

/** A futex sleep on a private word: nothing ever notifies it, so it returns on the timeout. */
export function futexSleep(): (ms: number) => void {
  const word = new Int32Array(new SharedArrayBuffer(4))
  return (ms) => { Atomics.wait(word, 0, 0, ms) }
}
