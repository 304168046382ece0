import { Worker } from 'node:worker_threads'

/**
 * Sub-millisecond wake-ups for the main thread without spinning it.
 *
 * Node can only sleep the event loop in whole milliseconds (libuv's epoll timeout), so a
 * scheduler that must send within a fraction of a millisecond used to poll with setImmediate for
 * the last 2 ms before every due time. At 1,000 req/s that is polling all the time: the main
 * thread used a whole core and allocated ~125 KB per request. Measured on a shared 2-core VM,
 * most schedule lag above 1 ms was then the main thread *waiting for the CPU* (run-queue delay
 * from /proc/thread-self/schedstat): a thread that never sleeps loses the scheduler's wake-up
 * preference and gets preempted for whole time slices by anything else on its core, including
 * V8's own GC and compiler threads.
 *
 * Instead, one helper thread per process sleeps in `Atomics.wait`, whose timeout is a
 * nanosecond futex wait, until the earliest armed deadline, then posts the slot number to the
 * main thread, which wakes from epoll at once (the message port is a libuv async handle). Both
 * threads block between wake-ups, so the main thread is idle when nothing is due.
 *
 * Shared memory layout: ctl[0] is a sequence bumped (and notified) on every change; per slot a
 * generation (bumped on every arm or cancel) and a deadline in CLOCK_MONOTONIC milliseconds.
 * The helper fires a slot once per generation, so a deadline re-armed while it was being fired
 * is never lost, and the main side re-checks its own clock on every ring, so a stale ring is
 * harmless.
 */
export interface PreciseAlarm {
  /** Rings once at `t` (`performance.now()` milliseconds), replacing any earlier arming. */
  arm(t: number): void
  cancel(): void
  /** Gives the slot back; the alarm must not be used afterwards. */
  release(): void
}

const SLOTS = 64

// CommonJS source run with `eval: true`, so it needs no file on disk and no TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const n = workerData.slots
const ctl = new Int32Array(workerData.sab, 0, 2)
const gen = new Int32Array(workerData.sab, 8, n)
const dl = new Float64Array(workerData.sab, 8 + 4 * n + (n % 2 === 1 ? 4 : 0), n)
const fired = new Int32Array(n)
// The loop reads performance.now() plus its offset from hrtime, taken once: the same clock
// (uv_hrtime) without a BigInt per reading, which gave this thread a scavenge every ~15 s.
const hrBig = () => Number(process.hrtime.bigint()) / 1e6
let best = Infinity
let off = 0
for (let i = 0; i < 9; i++) {
  const a = performance.now()
  const h = hrBig()
  const b = performance.now()
  if (b - a < best) { best = b - a; off = h - (a + b) / 2 }
}
const hr = () => performance.now() + off
parentPort.postMessage(-1)
for (;;) {
  const seq = Atomics.load(ctl, 0)
  const now = hr()
  let min = Infinity
  for (let i = 0; i < n; i++) {
    const g = Atomics.load(gen, i)
    if (g === fired[i]) continue
    const d = dl[i]
    if (d <= now) { fired[i] = g; parentPort.postMessage(i) } else if (d < min) min = d
  }
  if (min === Infinity) Atomics.wait(ctl, 0, seq)
  else Atomics.wait(ctl, 0, seq, min - hr())
}
`

// process.hrtime.bigint(): the array form was measured to jump by ~2 ms between its first and
// later calls, which would shift every deadline.
function hrMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** hrtime minus performance.now(), from the tightest of a few back-to-back readings. */
function calibrate(): number {
  let best = Number.POSITIVE_INFINITY
  let offset = 0
  for (let i = 0; i < 5; i++) {
    const a = performance.now()
    const h = hrMs()
    const b = performance.now()
    if (b - a < best) { best = b - a; offset = h - (a + b) / 2 }
  }
  return offset
}

class Hub {
  private readonly ctl: Int32Array
  private readonly gen: Int32Array
  private readonly dl: Float64Array
  /**
   * performance.now() + offset = process.hrtime() in ms, the helper's time base. (The helper
   * calibrates its own performance.now() against hrtime the same way: a worker's performance.now()
   * was measured 2 ms off the main thread's.)
   */
  private readonly offset: number
  private readonly rings: Array<(() => void) | null> = new Array<(() => void) | null>(SLOTS).fill(null)
  private readonly free: number[] = []
  dead = false
  /** Settles true once the helper is in its loop, false if it died first. */
  readonly ready: Promise<boolean>
  private markReady: (ok: boolean) => void = () => {}

  constructor() {
    this.ready = new Promise<boolean>((resolve) => { this.markReady = resolve })
    const sab = new SharedArrayBuffer(8 + 4 * SLOTS + (SLOTS % 2 === 1 ? 4 : 0) + 8 * SLOTS)
    this.ctl = new Int32Array(sab, 0, 2)
    this.gen = new Int32Array(sab, 8, SLOTS)
    this.dl = new Float64Array(sab, 8 + 4 * SLOTS + (SLOTS % 2 === 1 ? 4 : 0), SLOTS)
    for (let i = SLOTS - 1; i >= 0; i--) this.free.push(i)
    this.offset = calibrate()
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, slots: SLOTS }, name: 'loadmesh-precise-alarm' })
    worker.on('message', (slot: number) => {
      if (slot === -1) this.markReady(true)
      else this.rings[slot]?.()
    })
    const die = (): void => {
      this.dead = true
      this.markReady(false)
    }
    worker.on('error', die)
    worker.on('exit', die)
    // Never keeps the process alive: whoever arms an alarm also holds a ref'd fallback timer.
    // unref() comes after the listeners because adding a 'message' listener refs the port again.
    worker.unref()
  }

  take(ring: () => void): number {
    const slot = this.free.pop()
    if (slot === undefined) return -1
    this.rings[slot] = ring
    return slot
  }

  arm(slot: number, t: number): void {
    this.dl[slot] = t + this.offset
    this.bump(slot)
  }

  cancel(slot: number): void {
    this.dl[slot] = Number.POSITIVE_INFINITY
    this.bump(slot)
  }

  release(slot: number): void {
    this.cancel(slot)
    this.rings[slot] = null
    this.free.push(slot)
  }

  private bump(slot: number): void {
    Atomics.add(this.gen, slot, 1)
    Atomics.add(this.ctl, 0, 1)
    Atomics.notify(this.ctl, 0)
  }
}

let hub: Hub | null = null
let hubFailed = false

function getHub(): Hub | null {
  if (hubFailed) return null
  if (hub === null || hub.dead) {
    try {
      hub = new Hub()
    } catch {
      hubFailed = true
      return null
    }
  }
  return hub
}

/**
 * Starts the helper thread now and settles when it is ready (true) or unavailable (false), at most
 * `timeoutMs` later. A run calls it during setup: created lazily at the first arming, the helper's
 * start (a new isolate: ~50-100 ms of compiling and its own GCs, competing for the CPU) landed on
 * the run's first due times, whose alarms then fell back to millisecond timers.
 */
export async function preparePreciseAlarm(timeoutMs = 2000): Promise<boolean> {
  const h = getHub()
  if (h === null) return false
  let timer: ReturnType<typeof setTimeout> | undefined
  // The helper is unref'd; this timer also keeps the process alive while we wait for it.
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
  try {
    return await Promise.race([h.ready, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * An alarm on the shared helper thread, or null when there is none to be had (all slots taken,
 * or worker threads unavailable); callers then fall back to timers.
 */
export function createPreciseAlarm(ring: () => void): PreciseAlarm | null {
  const h = getHub()
  if (h === null) return null
  const slot = h.take(ring)
  if (slot < 0) return null
  let released = false
  return {
    arm(t) { if (!released) h.arm(slot, t) },
    cancel() { if (!released) h.cancel(slot) },
    release() {
      if (released) return
      released = true
      h.release(slot)
    }
  }
}
