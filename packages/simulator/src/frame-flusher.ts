import type { Clock } from '@loadmesh/clock'

/** A stream with tokens counted but not yet written. */
export interface PendingStream {
  /** Set while the stream sits in the flusher's queue, so it is queued once per flush. */
  queued: boolean
  /** Writes one frame with every pending token. */
  flush(): void
}

/**
 * Per-stream output coalescing, as vLLM v1's RequestOutputCollector merges a request's deltas while
 * its consumer has not taken the previous one. Engines hand tokens out as their steps end; a stream
 * only counts them and queues itself here, and one flush at the end of the engine's tick (see
 * `wrapEngineClock`; a microtask for tokens released outside a tick) writes ONE frame per stream
 * with everything it got meanwhile.
 *
 * Under light load a tick releases one token per stream, so frames stay one token each and go out
 * in the same turn as before. When the simulator falls behind, the engines catch up on the steps
 * they owe in a single tick and each stream still costs one socket write: frames grow instead of
 * writes queueing, and the write count stays bounded by streams x ticks.
 */
export class FrameFlusher {
  private queue: PendingStream[] = []
  private spare: PendingStream[] = []
  private scheduled = false

  /** Writes what is pending now. */
  readonly flush = (): void => {
    this.scheduled = false
    // Swapped, not iterated in place: a flush that ends a stream may free room for tokens of the
    // same tick, and those queue for the next flush.
    const q = this.queue
    this.queue = this.spare
    for (let i = 0; i < q.length; i++) {
      const s = q[i]
      s.queued = false
      s.flush()
    }
    q.length = 0
    this.spare = q
  }

  /**
   * The clock to give the engine: each of its timer callbacks (an engine tick: every step and
   * deadline due by then) is followed by a flush, so ticks that fire back to back in one turn (a
   * manual clock, or timers due together) still get a frame each.
   */
  wrapEngineClock(clock: Clock): Clock {
    const flush = this.flush
    const after = (fn: () => void) => (): void => {
      try {
        fn()
      } finally {
        flush()
      }
    }
    return {
      now: () => clock.now(),
      wallNow: () => clock.wallNow(),
      setTimer: (fn, ms) => clock.setTimer(after(fn), ms),
      setImmediate: (fn) => clock.setImmediate(after(fn))
    }
  }

  add(s: PendingStream): void {
    if (s.queued) return
    s.queued = true
    this.queue.push(s)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flush)
    }
  }
}
